from shared import training_records  # noqa: F401 - registers the tables on the metadata
from shared.migrate import run_migrations

run_migrations("trainer", {"training_runs", "model_versions"})
