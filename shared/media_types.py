"""Media types of the public API's bodies."""

PARQUET = "application/vnd.apache.parquet"
