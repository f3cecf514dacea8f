from services.projects import models  # noqa: F401 - registers the tables on the metadata
from shared.migrate import run_migrations

run_migrations("projects", {"users", "projects", "datasets", "revoked_sessions", "auth_throttles"})
