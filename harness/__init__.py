"""Running the platform outside production: its processes, throwaway databases, the reference datasets, generated
sales tables and pipelines fitted as the trainer fits them, for the tests and the benchmark (which must not import
the tests)."""
