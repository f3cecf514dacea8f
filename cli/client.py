"""A small client of the SalesML public API (API.md) over `requests`, shared by the CLI and the demo script.

It keeps the user's tokens in a `CredentialStore`, refreshes the access token once when the gateway answers 401,
and turns every failure into `ApiError` (the gateway's JSON error) or `ClientError` (anything else), so callers
never see a `requests` exception.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from cli.credentials import Credentials, CredentialStore
from cli.tabular import open_as_parquet, save_parquet_as
from shared.media_types import PARQUET
from shared.tabular_files import DEFAULT_DIALECT, CsvDialect

API_PREFIX = "/api/v1"
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
TRANSFER_TIMEOUT_S = 600
PAGE_SIZE = 100


class ClientError(Exception):
    """A failure the user can act on, described in `message` (never a traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApiError(ClientError):
    """The gateway answered with its JSON error shape: `{"code","status","message","errors"?}`."""

    def __init__(self, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.errors = errors or {}

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("message"):
            errors = body.get("errors")
            return cls(response.status_code, str(body["message"]), errors if isinstance(errors, dict) else None)
        return cls(response.status_code, f"the gateway answered {response.status_code} {response.reason}")


class SalesMLClient:
    def __init__(self, url: str, store: CredentialStore | None = None, session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.store = store or CredentialStore()
        self.session = session or requests.Session()

    # --- auth -------------------------------------------------------------------------------------------------

    def register(self, username: str, password: str) -> dict:
        return self._json(self.request("POST", "/auth/register", json=_credentials(username, password), auth=False))

    def login(self, username: str, password: str) -> Credentials:
        body = self._json(self.request("POST", "/auth/login", json=_credentials(username, password), auth=False))
        credentials = Credentials(username, body["access_token"], body["refresh_token"])
        self.store.save(self.url, credentials)
        return credentials

    def logout(self) -> None:
        """Revoke the access and refresh tokens on the gateway, then forget them here (even if the gateway fails)."""
        credentials = self.store.load(self.url)
        if credentials is None:
            return
        try:
            for token in (credentials.access_token, credentials.refresh_token):
                response = self._send("POST", "/auth/logout", headers=_bearer(token))
                if response.status_code not in (204, 401):
                    raise ApiError.from_response(response)
        finally:
            self.store.forget(self.url)

    def me(self) -> dict:
        return self._json(self.request("GET", "/auth/me"))

    # --- projects and datasets --------------------------------------------------------------------------------

    def list_projects(self) -> list[dict]:
        return self._every_page("/projects")

    def create_project(self, name: str, target: str | None = None, description: str | None = None) -> dict:
        body = {"name": name, "target": target, "description": description}
        return self._json(self.request("POST", "/projects", json={k: v for k, v in body.items() if v is not None}))

    def get_project(self, project_id: int) -> dict:
        return self._json(self.request("GET", f"/projects/{project_id}"))

    def delete_project(self, project_id: int) -> None:
        self.request("DELETE", f"/projects/{project_id}")

    def upload_dataset(self, project_id: int, path: Path, dialect: CsvDialect = DEFAULT_DIALECT) -> dict:
        """Send a .parquet file as the raw body (streamed from disk); a .csv or .xlsx is converted to parquet first."""
        with open_as_parquet(path, dialect) as parquet:
            headers = {
                "Content-Type": PARQUET,
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(Path(parquet.name).name)}",
            }
            response = self.request(
                "POST", f"/projects/{project_id}/datasets", data=parquet, headers=headers, timeout=TRANSFER_TIMEOUT_S
            )
        return self._json(response)

    def list_datasets(self, project_id: int) -> list[dict]:
        return self._every_page(f"/projects/{project_id}/datasets")

    def preview_dataset(self, project_id: int, dataset_id: str, limit: int | None = None) -> dict:
        params = {} if limit is None else {"limit": limit}
        path = f"/projects/{project_id}/datasets/{quote(dataset_id, safe='')}/preview"
        return self._json(self.request("GET", path, params=params))

    def download_dataset(
        self, project_id: int, dataset_id: str, destination: Path, dialect: CsvDialect = DEFAULT_DIALECT
    ) -> None:
        """The dataset's stored parquet file into `destination`: as it is for .parquet, converted for .csv or .xlsx."""
        path = f"/projects/{project_id}/datasets/{quote(dataset_id, safe='')}/download"
        response = self.request("GET", path, timeout=TRANSFER_TIMEOUT_S, stream=True)
        _save_parquet_answer(response, destination, dialect)

    # --- training and models ----------------------------------------------------------------------------------

    def train(self, project_id: int, params: dict[str, Any]) -> dict:
        return self._json(self.request("POST", f"/projects/{project_id}/train", json=params))

    def list_runs(self, project_id: int) -> list[dict]:
        return self._json(self.request("GET", f"/projects/{project_id}/training-runs"))

    def get_run(self, project_id: int, run_id: int) -> dict:
        return self._json(self.request("GET", f"/projects/{project_id}/training-runs/{run_id}"))

    def cancel_run(self, project_id: int, run_id: int) -> dict:
        return self._json(self.request("POST", f"/projects/{project_id}/training-runs/{run_id}/cancel"))

    def list_models(self, project_id: int) -> list[dict]:
        return self._json(self.request("GET", f"/projects/{project_id}/models"))

    def get_model(self, project_id: int, version: int) -> dict:
        return self._json(self.request("GET", f"/projects/{project_id}/models/{version}"))

    def activate_model(self, project_id: int, version: int) -> dict:
        return self._json(self.request("POST", f"/projects/{project_id}/models/{version}/activate"))

    # --- predictions ------------------------------------------------------------------------------------------

    def predict(
        self, project_id: int, features: dict | list, version: int | None = None, explain: bool = False
    ) -> dict:
        """One flat object → `{"prediction"}`; a list of objects → `{"predictions"}` (both with `model_version`);
        with `explain`, also `"explanation"` (one object) or `"explanations"` (records)."""
        body = {"records": features} if isinstance(features, list) else features
        params = {**_version(version), **({"explain": "true"} if explain else {})}
        return self._json(self.request("POST", f"/projects/{project_id}/predict", json=body, params=params))

    def predict_file(
        self, project_id: int, source: Path, version: int | None = None, dialect: CsvDialect = DEFAULT_DIALECT
    ) -> list[dict]:
        """Predict every row of a .parquet/.csv/.xlsx file; the rows come back as JSON records with `prediction`."""
        response = self._post_parquet_file(
            f"/projects/{project_id}/predict",
            source,
            dialect,
            headers={"Accept": "application/json"},
            params=_version(version),
        )
        body = self._json(response)
        return body.get("records", body) if isinstance(body, dict) else body

    def predict_file_to(
        self,
        project_id: int,
        source: Path,
        destination: Path,
        version: int | None = None,
        dialect: CsvDialect = DEFAULT_DIALECT,
    ) -> None:
        """Predict every row of a .parquet/.csv/.xlsx file into `destination` (.parquet, .csv or .xlsx): parquet in
        and out on the wire; `dialect` is how CSV files are read and written."""
        response = self._post_parquet_file(
            f"/projects/{project_id}/predict",
            source,
            dialect,
            headers={"Accept": PARQUET},
            params=_version(version),
            stream=True,
        )
        _save_parquet_answer(response, destination, dialect)

    def forecast(self, project_id: int, body: dict[str, Any], version: int | None = None) -> dict:
        """`{"model_version","frequency","horizon","forecasts":[rows]}` for the series and horizon in `body`."""
        return self._json(self.request("POST", f"/projects/{project_id}/forecast", json=body, params=_version(version)))

    def forecast_to(
        self,
        project_id: int,
        body: dict[str, Any],
        destination: Path,
        version: int | None = None,
        dialect: CsvDialect = DEFAULT_DIALECT,
    ) -> None:
        """The forecast rows into `destination` (.parquet, .csv or .xlsx), sent as parquet by the gateway."""
        response = self.request(
            "POST",
            f"/projects/{project_id}/forecast",
            json=body,
            headers={"Accept": PARQUET},
            params=_version(version),
            timeout=TRANSFER_TIMEOUT_S,
            stream=True,
        )
        _save_parquet_answer(response, destination, dialect)

    # --- decisions --------------------------------------------------------------------------------------------

    def what_if(self, project_id: int, body: dict[str, Any], version: int | None = None) -> dict:
        """`{"model_version","points":[…],"best"?}`: the predictions as the `vary` columns of `body` change."""
        return self._json(self.request("POST", f"/projects/{project_id}/what-if", json=body, params=_version(version)))

    def send_actuals(self, project_id: int, source: Path, dialect: CsvDialect = DEFAULT_DIALECT) -> dict:
        """Score a .parquet/.csv/.xlsx file of rows with their true target; the answer is the stored report."""
        return self._json(self._post_parquet_file(f"/projects/{project_id}/actuals", source, dialect))

    def send_actual_records(self, project_id: int, records: list[dict]) -> dict:
        return self._json(self.request("POST", f"/projects/{project_id}/actuals", json={"records": records}))

    def list_actuals(self, project_id: int) -> list[dict]:
        return self._every_page(f"/projects/{project_id}/actuals")

    def get_actuals(self, project_id: int, report_id: int) -> dict:
        return self._json(self.request("GET", f"/projects/{project_id}/actuals/{report_id}"))

    # --- transport --------------------------------------------------------------------------------------------

    def _post_parquet_file(
        self, path: str, source: Path, dialect: CsvDialect, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        """POST a .parquet/.csv/.xlsx file as a parquet body, streamed from disk (a CSV or .xlsx converted first)."""
        with open_as_parquet(source, dialect) as parquet:
            return self.request(
                "POST",
                path,
                data=parquet,
                headers={"Content-Type": PARQUET, **(headers or {})},
                timeout=TRANSFER_TIMEOUT_S,
                **kwargs,
            )

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> requests.Response:
        """Send a request; with `auth`, as the stored user, refreshing the access token once on a 401."""
        if not auth:
            return self._checked(self._send(method, path, **kwargs))
        credentials = self.store.load(self.url)
        if credentials is None:
            raise ClientError(f"not logged in to {self.url}; run 'salesml login USERNAME' first")
        response = self._send(method, path, token=credentials.access_token, **kwargs)
        if response.status_code == 401:
            self._refresh(credentials)
            _rewind(kwargs.get("data"))
            response = self._send(method, path, token=credentials.access_token, **kwargs)
        return self._checked(response)

    def _every_page(self, path: str) -> list[dict]:
        """Every item of a paginated list, following `X-Pagination`'s `next_page`."""
        items: list[dict] = []
        page: int | None = 1
        while page is not None:
            response = self.request("GET", path, params={"page": page, "page_size": PAGE_SIZE})
            batch = self._json(response)
            items.extend(batch)
            page = _next_page(response) if batch else None
        return items

    def _refresh(self, credentials: Credentials) -> None:
        response = self._send("POST", "/auth/refresh", headers=_bearer(credentials.refresh_token))
        if response.status_code == 401:
            self.store.forget(self.url)
            raise ClientError(f"your session at {self.url} has expired; run 'salesml login USERNAME' again")
        credentials.access_token = self._json(self._checked(response))["access_token"]
        self.store.save(self.url, credentials)

    def _send(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = READ_TIMEOUT_S,
        **kwargs: Any,
    ) -> requests.Response:
        headers = dict(headers or {})
        if token is not None:
            headers.update(_bearer(token))
        try:
            return self.session.request(
                method, self.url + API_PREFIX + path, headers=headers, timeout=(CONNECT_TIMEOUT_S, timeout), **kwargs
            )
        except requests.exceptions.ReadTimeout as exc:
            raise ClientError(f"the SalesML gateway at {self.url} did not answer within {timeout:g} s") from exc
        except requests.exceptions.ConnectionError as exc:
            raise ClientError(f"cannot reach the SalesML gateway at {self.url}") from exc
        except requests.exceptions.RequestException as exc:
            raise ClientError(f"request to the SalesML gateway at {self.url} failed: {exc}") from exc

    @staticmethod
    def _checked(response: requests.Response) -> requests.Response:
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ClientError(f"the gateway answered {response.status_code} with a body that is not JSON") from exc


def _credentials(username: str, password: str) -> dict[str, str]:
    return {"username": username, "password": password}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _version(version: int | None) -> dict[str, int]:
    return {} if version is None else {"version": version}


def _next_page(response: requests.Response) -> int | None:
    try:
        pagination = json.loads(response.headers.get("X-Pagination", "{}"))
    except ValueError:
        return None
    next_page = pagination.get("next_page") if isinstance(pagination, dict) else None
    return next_page if isinstance(next_page, int) else None


def _save_parquet_answer(response: requests.Response, destination: Path, dialect: CsvDialect) -> None:
    """Stream a parquet answer to disk, then put it at `destination` (converted for .csv or .xlsx)."""
    with tempfile.TemporaryDirectory(prefix="salesml-") as folder:
        downloaded = Path(folder) / "answer.parquet"
        with response, downloaded.open("wb") as handle:
            for chunk in response.iter_content(chunk_size=1 << 16):
                handle.write(chunk)
        save_parquet_as(downloaded, destination, dialect)


def _rewind(body: Any) -> None:
    if hasattr(body, "seek"):
        body.seek(0)
