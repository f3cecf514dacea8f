"""Running the platform outside production: its processes, throwaway databases and the reference datasets, for the
end-to-end tests and the benchmark (which must not import the tests)."""
