"""Media types of the public API's bodies."""

PARQUET = "application/vnd.apache.parquet"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
