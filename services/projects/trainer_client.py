"""Calls from the projects service to the trainer's internal routes."""

from __future__ import annotations

import requests


class TrainerUnavailable(RuntimeError):
    """The trainer could not be reached or did not do what was asked."""


def delete_project_training(
    trainer_url: str, project_id: int, headers: dict[str, str], timeout: tuple[float, float]
) -> None:
    """Have the trainer cancel the project's runs and delete its runs and model versions (before the project goes)."""
    url = f"{trainer_url.rstrip('/')}/internal/projects/{project_id}/training"
    try:
        response = requests.delete(url, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise TrainerUnavailable(f"DELETE {url}: {exc}") from exc
    if response.status_code != 204:
        raise TrainerUnavailable(f"DELETE {url} answered {response.status_code}: {response.text[:200]}")
