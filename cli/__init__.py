"""`salesml`: the command-line client of the SalesML gateway (login, upload, train, predict)."""
