"""The end-to-end fixtures (``platform``, ``api``) live in ``tests/platform_harness.py``, a plugin shared by every
test folder (one platform per session); the names below stay importable from here."""

from tests.platform_harness import DEFAULT_PASSWORD, SERVICES, ApiClient, Platform, bearer, free_port, unique_username

__all__ = ["DEFAULT_PASSWORD", "SERVICES", "ApiClient", "Platform", "bearer", "free_port", "unique_username"]
