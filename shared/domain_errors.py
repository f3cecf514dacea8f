"""The errors domain code raises, knowing nothing of HTTP (``shared.errors`` gives each its status).

This module imports nothing, so any code may raise these (even the upload profiling child, which runs with
``python -I``).
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses: a missing object, a conflict, invalid data, a quota.

    ``message`` (and ``errors``: field → messages) say what to fix; ``headers`` are added to the answer (e.g.
    ``Retry-After``). The HTTP status comes from the app's error map, never from the raising code.
    """

    message = "The request cannot be served."

    def __init__(
        self,
        message: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        super().__init__(self.message)
        self.errors = errors
        self.headers = headers or {}


class ProjectNotFound(DomainError):
    message = "Project not found."


class DatasetNotFound(DomainError):
    message = "Dataset not found."


class ProjectHasNoDataset(DomainError):
    message = "This project has no dataset: upload a dataset first."


class ModelVersionNotFound(DomainError):
    message = "Model version not found."


class TrainingRunNotFound(DomainError):
    message = "Training run not found."


class UpstreamFailure(DomainError):
    """Another of our services could not be asked, or did not answer properly."""


class UpstreamUnavailable(UpstreamFailure):
    """No connection could be made: the service is down."""


class UpstreamTimedOut(UpstreamFailure):
    """The service did not answer in time."""


class UpstreamBroken(UpstreamFailure):
    """The service broke the exchange or answered something it should not have."""


class ObjectStoreFailure(DomainError):
    """The object store (where dataset files live) could not serve a request; ``detail`` says why, for the logs."""

    message = "The object store is unavailable; retry shortly."

    def __init__(self, detail: str = "", message: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail or self.message
