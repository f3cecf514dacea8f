"""One public OpenAPI 3 document merged from the services' own (flask-smorest) documents.

Services document their public routes at their public paths; the merge keeps only the paths the gateway routes,
renames clashing component names, and marks every operation that needs a bearer token.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gateway.routing import Route, resolve

log = logging.getLogger(__name__)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BEARER_AUTH = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
_PATH_PARAMETER = re.compile(r"\{[^}/]+\}")
ERROR_SCHEMA_REF = "#/components/schemas/Error"
# Answers any operation may get from the gateway or the shared machinery of every service, whatever its own
# document says: the services' documents list only what their own code answers.
UPSTREAM_FAILURES = {
    502: "A service failed to answer properly.",
    503: "A service, the database or the object store is unavailable; retry shortly.",
    504: "A service did not answer in time.",
}
WITH_ACCESS_TOKEN = {401: "Missing, invalid, expired or revoked access token."}
OF_A_PROJECT = {404: "No such project among the caller's (another user's project answers the same)."}
WITH_A_BODY = {
    400: "The body is not valid JSON or is malformed.",
    413: "The body is larger than this route accepts.",
}


def _rename_refs(node: Any, old_ref: str, new_ref: str) -> Any:
    if isinstance(node, dict):
        return {
            key: (new_ref if key == "$ref" and value == old_ref else _rename_refs(value, old_ref, new_ref))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rename_refs(item, old_ref, new_ref) for item in node]
    return node


def _without_clashes(service: str, document: dict[str, Any], components: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``document`` with each component that clashes with an already merged one (same name, other content) renamed."""
    document = copy.deepcopy(document)
    for kind, entries in list(document.get("components", {}).items()):
        for name in list(entries):
            existing = components.get(kind, {}).get(name)
            if existing is None or existing == entries[name]:
                continue
            new_name = f"{service.capitalize()}{name}"
            document = _rename_refs(document, f"#/components/{kind}/{name}", f"#/components/{kind}/{new_name}")
            document["components"][kind][new_name] = document["components"][kind].pop(name)
    return document


def _route_of_documented_path(path: str):
    return resolve(_PATH_PARAMETER.sub("1", path))


def _with_gateway_answers(operation: dict[str, Any], route: Route) -> dict[str, Any]:
    """The operation with its security requirement and every error status it can get documented."""
    operation = dict(operation)
    answers = dict(UPSTREAM_FAILURES)
    if route.needs_access_token or route.forwards_authorization:
        operation["security"] = [{"bearerAuth": []}]
        answers |= WITH_ACCESS_TOKEN
    if route.project_id is not None:
        answers |= OF_A_PROJECT
    if "requestBody" in operation:
        answers |= WITH_A_BODY
    responses = dict(operation.get("responses", {}))
    for status, description in answers.items():
        responses.setdefault(
            str(status),
            {"description": description, "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}}},
        )
    operation["responses"] = responses
    return operation


def merge_documents(
    documents: Mapping[str, dict[str, Any]], missing: Iterable[str], title: str, version: str
) -> dict[str, Any]:
    """Merge the services' documents (in the given order); ``missing`` names services whose document is absent."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, Any]] = {}
    for service, document in documents.items():
        document = _without_clashes(service, document, components)
        for kind, entries in document.get("components", {}).items():
            components.setdefault(kind, {}).update(entries)
        for tag in document.get("tags", []):
            tags.setdefault(tag["name"], tag)
        for path, item in document.get("paths", {}).items():
            route = _route_of_documented_path(path)
            if route is None or route.service != service:
                continue
            merged_item = paths.setdefault(path, {})
            for key, value in item.items():
                if key in HTTP_METHODS:
                    value = _with_gateway_answers(value, route)
                merged_item[key] = value
    components.setdefault("securitySchemes", {})["bearerAuth"] = BEARER_AUTH
    description = "SalesML public API, served by the gateway."
    missing = sorted(missing)
    if missing:
        description += (
            f" Incomplete: the {', '.join(missing)} service(s) could not be reached, so their routes are missing;"
            " reload later."
        )
    merged: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version, "description": description},
        "paths": dict(sorted(paths.items())),
        "components": components,
        "tags": list(tags.values()),
    }
    if missing:
        merged["x-missing-services"] = missing
    return merged


class MergedDocument:
    """The merged document, each service's part fetched again after ``cache_seconds``.

    When a service cannot be reached, its last fetched part is used; if there is none, the document says so.
    """

    def __init__(
        self,
        services: Iterable[str],
        fetch: Callable[[str], dict[str, Any]],
        cache_seconds: float,
        title: str,
        version: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = tuple(services)
        self.fetch = fetch
        self.cache_seconds = cache_seconds
        self.title = title
        self.version = version
        self._clock = clock
        self._parts: dict[str, tuple[dict[str, Any], float]] = {}
        self._lock = threading.Lock()

    def current(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            missing = []
            for service in self.services:
                part = self._parts.get(service)
                if part is not None and now - part[1] < self.cache_seconds:
                    continue
                try:
                    self._parts[service] = (self.fetch(service), now)
                except Exception as exc:  # an unreachable or broken service: keep what we have, name it if nothing
                    log.warning("could not fetch the %s service's OpenAPI document: %s", service, exc)
                    if part is None:
                        missing.append(service)
            documents = {service: self._parts[service][0] for service in self.services if service in self._parts}
        return merge_documents(documents, missing, self.title, self.version)
