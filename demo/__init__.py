"""Example data for trying SalesML end to end (``make demo``)."""
