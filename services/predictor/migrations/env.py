from services.predictor import models  # noqa: F401 - registers the tables on the metadata
from shared.migrate import run_migrations

run_migrations("predictor", {"actuals_reports"})
