"""Fixtures of the security suite: one client of the session platform and one user whose project has a dataset and a
model trained for real (tiny: ``lr``, 2 folds), shared by every module that needs a trained model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.data import sales_frame
from harness.processes import Platform
from tests.platform_harness import ApiClient
from tests.security.support import TrainedProject, create_project_with_data, new_account, start_training, wait_for_run


@pytest.fixture(scope="session")
def session_api(platform: Platform) -> Iterator[ApiClient]:
    client = ApiClient(platform.gateway_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def trained_project(platform: Platform, session_api: ApiClient) -> TrainedProject:
    """Trained once per session, for real, by the platform's worker."""
    owner = new_account(session_api, "owner")
    project = create_project_with_data(session_api, owner, sales_frame(), "owner's shop")
    run = start_training(session_api, owner, project["id"])
    finished = wait_for_run(session_api, owner, project["id"], run["id"])
    assert finished["status"] == "succeeded", (finished, platform.log_tail("worker"))
    return TrainedProject(owner, project["id"], project["latest_dataset"], run["id"], finished["model_version"])
