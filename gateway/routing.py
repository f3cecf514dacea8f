"""Which service answers a public path, and what the gateway must check before forwarding it.

Services mount the same ``/api/v1/...`` paths as the public API, so a path is forwarded unchanged. Anything not
listed here (``/internal/**`` in particular) is never routed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.body_limits import JSON_BODY, PREDICT_BODY, UPLOAD_BODY
from shared.ids import ID, MAX_ID

PROJECTS = "projects"
TRAINER = "trainer"
PREDICTOR = "predictor"
SERVICES = (PROJECTS, TRAINER, PREDICTOR)


_ANONYMOUS_AUTH = re.compile(r"^/api/v1/auth/(register|login|refresh)/?$")
_AUTH_WITH_OWN_TOKEN_CHECK = re.compile(r"^/api/v1/auth/(refresh|logout)/?$")
_AUTH = re.compile(r"^/api/v1/auth/[^/].*$")
_PROJECTS = re.compile(r"^/api/v1/projects/?$")
_PROJECT = re.compile(r"^/api/v1/projects/(?P<id>[^/]+)(?P<rest>/.*)?$")
_PROJECT_ID = re.compile(r"^[0-9]{1,10}$")
_DATASETS = re.compile(r"^/datasets/?$")
_PROJECT_SUBROUTES = (
    (re.compile(r"^/?$"), PROJECTS),
    (re.compile(r"^/datasets(/.*)?$"), PROJECTS),
    (re.compile(r"^/train/?$"), TRAINER),
    (re.compile(r"^/training-runs(/.*)?$"), TRAINER),
    (re.compile(r"^/models(/.*)?$"), TRAINER),
    (re.compile(r"^/predict/?$"), PREDICTOR),
    (re.compile(r"^/forecast/?$"), PREDICTOR),
    (re.compile(r"^/what-if/?$"), PREDICTOR),
    (re.compile(r"^/actuals(/.*)?$"), PREDICTOR),
)


@dataclass(frozen=True)
class Route:
    service: str
    # The project whose ownership the gateway checks before forwarding (None: not a per-project route).
    project_id: int | None = None
    # False only for register/login/refresh: no access token to verify, no user in the internal token.
    needs_access_token: bool = True
    # refresh/logout: the projects service verifies (and revokes) the presented token itself.
    forwards_authorization: bool = False
    # ``/projects/<id>`` itself: once a DELETE of it succeeds, the cached ownership must go.
    is_the_project: bool = False
    # POST here may carry a dataset: the service answers only once the file is checked, profiled and stored.
    takes_uploads: bool = False
    # The table entry it falls under, spelled as a URL rule (``/api/v1/projects/<int(...):project_id>/models/<path:
    # rest>``): what the gateway's metrics label a proxied request by, since unlike a path it takes few values.
    template: str = field(default="", compare=False)

    @property
    def body_kind(self) -> str:
        """What its body may be, for ``shared.body_limits``."""
        if self.takes_uploads:
            return UPLOAD_BODY
        return PREDICT_BODY if self.service == PREDICTOR else JSON_BODY


def has_unsafe_segments(path: str) -> bool:
    """Dot segments or empty segments could be normalized differently upstream: such paths are never routed."""
    segments = path.split("/")[1:]
    if segments and segments[-1] == "":
        segments = segments[:-1]
    return any(segment in ("", ".", "..") for segment in segments)


def resolve(path: str) -> Route | None:
    """The route for a (decoded) request path, or None when the gateway does not route it (404)."""
    if not path.startswith("/api/v1/") or has_unsafe_segments(path):
        return None
    if _AUTH.match(path):
        return Route(
            PROJECTS,
            needs_access_token=not _ANONYMOUS_AUTH.match(path),
            forwards_authorization=bool(_AUTH_WITH_OWN_TOKEN_CHECK.match(path)),
            template="/api/v1/auth/<path:rest>",
        )
    if _PROJECTS.match(path):
        return Route(PROJECTS, takes_uploads=True, template="/api/v1/projects")
    match = _PROJECT.match(path)
    if match is None or not _PROJECT_ID.match(match["id"]):
        return None
    project_id = int(match["id"])
    if project_id > MAX_ID:
        return None
    rest = match["rest"] or ""
    for pattern, service in _PROJECT_SUBROUTES:
        if pattern.match(rest):
            return Route(
                service,
                project_id=project_id,
                is_the_project=rest in ("", "/"),
                takes_uploads=bool(_DATASETS.match(rest)),
                template=_project_template(rest),
            )
    return None


def _project_template(rest: str) -> str:
    resource, _, below = rest.strip("/").partition("/")
    template = f"/api/v1/projects/<{ID}:project_id>" + (f"/{resource}" if resource else "")
    return template + ("/<path:rest>" if below else "")


def route_template(path: str) -> str | None:
    """The table entry a routed path falls under (``Route.template``), or None when the path is not routed."""
    route = resolve(path)
    return route.template if route is not None else None
