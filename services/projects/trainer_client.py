"""Calls from the projects service to the trainer's internal routes."""

from __future__ import annotations

from shared.domain_errors import UpstreamBroken, UpstreamFailure
from shared.service_client import ServiceClient

TRAINER = "trainer"


def delete_project_training(client: ServiceClient, project_id: int, headers: dict[str, str]) -> None:
    """Have the trainer cancel the project's runs and delete its runs and model versions (before the project goes).

    Raises ``UpstreamFailure`` when the trainer did not do it (the project itself stays).
    """
    try:
        answer = client.send(TRAINER, "DELETE", f"/internal/projects/{project_id}/training", headers)
    except UpstreamFailure as failure:
        raise type(failure)(f"{failure.message}; the project was not deleted. Retry shortly.") from failure
    if answer.status_code != 204:
        raise UpstreamBroken(
            f"the trainer service answered {answer.status_code}; the project was not deleted. Retry shortly."
        )
