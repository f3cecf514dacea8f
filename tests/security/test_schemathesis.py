"""Property-based requests from the gateway's own OpenAPI document (schemathesis), as an authenticated user:
no 5xx, every status is one the operation documents (no catch-all "default"), and every response matches its
documented schema. Each operation is tried with free path ids (mostly 404s,
which must still be documented JSON), then with the user's own project and dataset ids, valid and invalid bodies."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance
from schemathesis.core.failures import FailureGroup

from harness.data import sales_frame
from tests.security.support import create_project_with_data, new_account

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 15
# Logging out would revoke the token every other example uses; it is covered by the token tests.
SKIPPED_OPERATIONS = {("POST", "/api/v1/auth/logout")}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def operations(schema) -> list:
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in SKIPPED_OPERATIONS:
            found.append(operation)
    return found


def fuzz(operation, mode: GenerationMode, path_ids: dict, base_url: str, headers: dict[str, str]) -> list[str]:
    """Failures of ``EXAMPLES_PER_OPERATION`` generated requests to one operation (all of them, not just the first)."""
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(case=operation.as_strategy(mode, path_parameters=path_ids or None))
    def check(case) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, FailureGroup) as failure:  # collect every failure (a FailureGroup is no Exception)
            failures.append(f"{operation.method.upper()} {operation.path} {mode.value} {path_ids}: {failure}"[:2000])

    check()
    return failures


def test_fuzzed_requests_get_no_5xx_and_documented_responses(platform, session_api):
    schema = schemathesis.openapi.from_url(f"{platform.gateway_url}/api/v1/openapi.json")
    # A user of its own: fuzzed PATCH/DELETE calls must not touch the objects other tests share.
    fuzzer = new_account(session_api, "fuzzer")
    project = create_project_with_data(session_api, fuzzer, sales_frame(30, seed=5), "fuzzed")
    own_ids = {"project_id": project["id"], "dataset_id": project["latest_dataset"]}
    failures: list[str] = []
    for operation in operations(schema):
        parameters = {parameter.name for parameter in operation.path_parameters}
        own = {name: value for name, value in own_ids.items() if name in parameters}
        for mode, path_ids in (
            (GenerationMode.POSITIVE, {}),
            (GenerationMode.POSITIVE, own),
            (GenerationMode.NEGATIVE, own),
        ):
            failures += fuzz(operation, mode, path_ids, platform.gateway_url, fuzzer.headers)
    assert not failures, "\n\n".join(failures)
