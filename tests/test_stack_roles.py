"""``make stack`` starts each process as docker/start.sh starts its container, with the secrets docker-compose.yml
gives that container: no more (the gateway never holds the key that signs models), no fewer."""

from __future__ import annotations

import pytest
import yaml

from scripts.stack import ROLE_SERVICES, STACK_SECRET_NAMES, role_secret_names
from shared.config import REPO_ROOT

COMPOSE_SERVICES = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
CONTAINER_OF_ROLE = {"worker": "trainer-worker"}


@pytest.mark.parametrize("role", sorted(ROLE_SERVICES))
def test_each_process_gets_the_secrets_of_its_container(role):
    container = COMPOSE_SERVICES[CONTAINER_OF_ROLE.get(role, role)]
    assert container["command"] == [role]
    assert sorted(role_secret_names(role)) == sorted(set(container["environment"]) & set(STACK_SECRET_NAMES))
