"""Every service and the gateway: /health, /health/ready, and the error shape for unknown routes and methods."""

import pytest

from services.predictor import create_app as create_predictor
from services.projects import create_app as create_projects
from services.trainer import create_app as create_trainer
from tests.conftest import internal_token_headers

SERVICES = {"projects": create_projects, "trainer": create_trainer, "predictor": create_predictor}


@pytest.mark.parametrize("name", SERVICES)
def test_health_and_ready(name, app_config):
    # The gateway's readiness also needs the services running: see tests/test_gateway.py.
    client = SERVICES[name](app_config).test_client()
    assert client.get("/health").json == {"status": "ok", "service": name, "version": "0.1.0"}
    ready = client.get("/health/ready/")
    assert ready.status_code == 200, ready.json
    assert ready.json["status"] == "ready"


@pytest.mark.parametrize("name", SERVICES)
def test_service_unknown_route_and_wrong_method_use_the_error_shape(name, app_config):
    client = SERVICES[name](app_config).test_client()
    headers = internal_token_headers(app_config, name, user_id=1)
    missing = client.get("/api/v1/no-such-route", headers=headers)
    assert missing.status_code == 404
    assert missing.json == {"code": 404, "status": "Not Found", "message": "Not found."}
    wrong_method = client.delete("/health")
    assert wrong_method.status_code == 405
    assert wrong_method.json["status"] == "Method Not Allowed"


@pytest.mark.parametrize("name", SERVICES)
def test_service_refuses_requests_without_internal_token(name, app_config):
    client = SERVICES[name](app_config).test_client()
    response = client.get("/openapi.json", headers={"X-User-Id": "1"})
    assert response.status_code == 401
    assert response.json["code"] == 401


def test_readiness_names_the_database_when_it_is_down(app_config):
    app_config["DATABASE_URL"] = "postgresql+psycopg2://postgres@127.0.0.1:1/nothing"
    client = create_trainer(app_config).test_client()
    assert client.get("/health").status_code == 200
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert "database" in ready.json["errors"]
    assert ready.json["message"] == "not ready: database unavailable"
