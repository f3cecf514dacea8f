"""The `salesml` command as a real subprocess against the real platform: log in, upload, train --wait, predict;
forecast; what-if, explanations and actuals; exports.

Each test gets its own credential folder (`SALESML_CONFIG_DIR`) and user; training is tiny (lr and dt, 2 folds; a
forecast compares seasonal naive and ETS on two backtest windows).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from demo.store_sales import STORE_LEVELS, expected_store_sales, generate_store_sales
from demo.supplements import expected_sales, generate_supplements_sales
from shared.config import REPO_ROOT
from tests.platform_harness import DEFAULT_PASSWORD, unique_username

pytestmark = pytest.mark.e2e

SALESML = Path(sys.executable).with_name("salesml")
TRAIN_TIMEOUT_S = 300


class Cli:
    """Runs `salesml --url <gateway> ...` with its own credential folder; returns the finished process."""

    def __init__(self, gateway_url: str, config_dir: Path) -> None:
        self.gateway_url = gateway_url
        self.config_dir = config_dir

    def __call__(self, *args: str, password: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        # PYTHONPATH: this checkout's code, even when the virtualenv's editable install points at another checkout.
        env = {**os.environ, "SALESML_CONFIG_DIR": str(self.config_dir), "PYTHONPATH": str(REPO_ROOT)}
        env.pop("SALESML_PASSWORD", None)
        if password is not None:
            env["SALESML_PASSWORD"] = password
        finished = subprocess.run(
            [str(SALESML), "--url", self.gateway_url, *args],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
        # Decoded by hand: text mode would turn the progress bar's '\r' into newlines.
        finished = subprocess.CompletedProcess(
            finished.args, finished.returncode, finished.stdout.decode(), finished.stderr.decode()
        )
        assert "Traceback" not in finished.stderr, finished.stderr
        return finished

    def ok(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        finished = self(*args, **kwargs)
        assert finished.returncode == 0, f"salesml {' '.join(args)}:\n{finished.stdout}\n{finished.stderr}"
        return finished


@pytest.fixture
def cli(platform, tmp_path) -> Cli:
    return Cli(platform.gateway_url, tmp_path / "salesml-config")


@pytest.fixture
def logged_in(cli) -> Cli:
    username = unique_username("cli")
    cli.ok("register", username, "--password", DEFAULT_PASSWORD)
    cli.ok("login", username, password=DEFAULT_PASSWORD)
    return cli


def created_project_id(cli: Cli, name: str) -> int:
    output = cli.ok("projects", "create", name).stdout
    match = re.search(r"created project (\d+)", output)
    assert match, output
    return int(match.group(1))


def api_error_message(platform, path: str, body: dict, headers: dict | None = None) -> dict:
    answer = requests.post(f"{platform.gateway_url}/api/v1{path}", json=body, headers=headers, timeout=60)
    assert answer.status_code >= 400, answer.text
    return answer.json()


def test_login_keeps_tokens_in_a_private_file_and_logout_forgets_them(logged_in):
    credentials = logged_in.config_dir / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(logged_in.config_dir.stat().st_mode) == 0o700
    assert logged_in.ok("whoami").stdout.startswith("cli_")

    access_token = next(iter(json.loads(credentials.read_text())["gateways"].values()))["access_token"]
    logged_in.ok("logout")
    assert json.loads(credentials.read_text())["gateways"] == {}
    after = logged_in("projects")
    assert after.returncode == 1 and "not logged in" in after.stderr
    revoked = requests.get(
        f"{logged_in.gateway_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {access_token}"}, timeout=30
    )
    assert revoked.status_code == 401


def test_a_rejected_access_token_is_refreshed_with_the_refresh_token(logged_in):
    credentials = logged_in.config_dir / "credentials.json"
    content = json.loads(credentials.read_text())
    entry = next(iter(content["gateways"].values()))
    entry["access_token"] = "not-a-valid-token"
    credentials.write_text(json.dumps(content))

    assert logged_in.ok("whoami").stdout.startswith("cli_")
    refreshed = next(iter(json.loads(credentials.read_text())["gateways"].values()))
    assert refreshed["access_token"] != "not-a-valid-token"
    assert refreshed["refresh_token"] == entry["refresh_token"]


def test_wrong_password_prints_the_apis_message_and_exits_1(platform, cli):
    username = unique_username("cli")
    cli.ok("register", username, "--password", DEFAULT_PASSWORD)
    expected = api_error_message(platform, "/auth/login", {"username": username, "password": "wrong-password"})

    failed = cli("login", username, password="wrong-password")
    assert failed.returncode == 1
    assert failed.stderr.strip() == f"error: {expected['message']}"
    assert not (cli.config_dir / "credentials.json").exists()


def test_invalid_registration_prints_each_field_error(cli):
    failed = cli("register", "x", "--password", "short")
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert any(line.startswith("  username: ") for line in lines[1:]), failed.stderr
    assert any(line.startswith("  password: ") for line in lines[1:]), failed.stderr


def test_unknown_model_id_is_refused_before_training(logged_in, tmp_path):
    project_id = created_project_id(logged_in, "refused")
    path = tmp_path / "sales.parquet"
    generate_supplements_sales(rows=60, seed=3).to_parquet(path, index=False)
    logged_in.ok("upload", str(project_id), str(path))

    failed = logged_in("train", str(project_id), "--include", "lr,not_a_model", "--wait")
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ") and "not_a_model" in failed.stderr
    assert len(logged_in.ok("runs", str(project_id)).stdout.strip().splitlines()) == 2  # header and rule only


def test_upload_train_wait_and_predict(logged_in, tmp_path):
    cli = logged_in
    project_id = created_project_id(cli, "Supplements")
    sales = generate_supplements_sales(rows=400, seed=7)
    csv_path = tmp_path / "vendas.csv"
    sales.to_csv(csv_path, index=False)

    uploaded = cli.ok("upload", str(project_id), str(csv_path)).stdout
    assert "400 rows" in uploaded and "product, price, promotion, weekday, sales" in uploaded
    listed = cli.ok("projects").stdout.splitlines()
    assert any(line.split()[:2] == [str(project_id), "Supplements"] for line in listed), listed

    trained = cli.ok("train", str(project_id), "--include", "lr,dt", "--folds", "2", "--wait", timeout=TRAIN_TIMEOUT_S)
    assert "\r[" in trained.stderr and "100% succeeded" in trained.stderr
    board = [line.split()[0] for line in trained.stdout.splitlines()[2:] if line.split()[:1] in (["lr"], ["dt"])]
    assert sorted(board) == ["dt", "lr"], trained.stdout
    assert re.search(r"run \d+ succeeded: model version 1\b", trained.stdout), trained.stdout

    assert "succeeded" in cli.ok("runs", str(project_id)).stdout
    models = cli.ok("models", str(project_id)).stdout.splitlines()
    assert models[2].split()[0] == "1" and "*" in models[2].split(), models
    activated = cli.ok("activate", str(project_id), "1").stdout
    assert "model version 1" in activated

    model = json.loads(cli.ok("models", str(project_id), "1", "--json").stdout)
    assert [feature["name"] for feature in model["features"]] == ["product", "price", "promotion", "weekday"]
    view = cli.ok("models", str(project_id), "1").stdout
    assert view.startswith("model version 1 (active")
    bars = view.split("when the column is shuffled; then the model's own)\n", 1)[1].splitlines()
    ranked = sorted(model["permutation_importance"], key=lambda entry: entry["importance"], reverse=True)
    assert [line.split()[0] for line in bars] == [entry["feature"] for entry in ranked]
    assert bars[0].count("#") == 30

    after = cli.ok(
        "predict", str(project_id), "price=150", "--version", "1", "promotion=1", "product=Creatina", "weekday=Saturday"
    )
    assert re.search(r"prediction: -?[\d.]+ \(model version 1\)", after.stdout), after.stdout

    one = cli.ok("predict", str(project_id), "price=150", "promotion=1", "product=Creatina", "weekday=Saturday").stdout
    match = re.search(r"prediction: (-?[\d.]+) \(model version 1\)", one)
    assert match, one
    assert abs(float(match.group(1)) - expected_sales("Creatina", 150, 1, "Saturday")) < 25

    rows = [
        {"product": "BCAA", "price": 90, "promotion": 0, "weekday": "Monday"},
        json.loads(sales.head(1).to_json(orient="records"))[0],
    ]
    json_path = tmp_path / "rows.json"
    json_path.write_text(json.dumps(rows))
    table = cli.ok("predict", str(project_id), "--input", str(json_path)).stdout.splitlines()
    assert table[0].split()[-1] == "prediction" and len(table) == 2 + len(rows) + 1

    output_path = tmp_path / "predicted.parquet"
    cli.ok("predict", str(project_id), "--input", str(csv_path), "--output", str(output_path))
    predicted = pq.read_table(output_path)
    assert predicted.num_rows == 400 and "prediction" in predicted.column_names

    csv_output = tmp_path / "predicted.csv"
    cli.ok("predict", str(project_id), "--input", str(csv_path), "--output", str(csv_output))
    assert csv_output.read_text().splitlines()[0].endswith('"prediction"')

    missing = cli("predict", str(project_id), "price=150", "product=Creatina")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: ")
    assert "weekday" in missing.stderr and "promotion" in missing.stderr


def test_spreadsheet_files_upload_with_numbers_kept_then_datasets_and_preview(logged_in, tmp_path):
    cli = logged_in
    project_id = created_project_id(cli, "Planilhas")
    vendas = tmp_path / "vendas.csv"
    vendas.write_text("produto;preço;promoção;vendas\nCreatina;150,5;1;1.234,5\nBCAA;90;0;12,25\n", encoding="cp1252")
    uploaded = json.loads(cli.ok("upload", str(project_id), str(vendas), "--json").stdout)
    dtypes = {column["name"]: column["dtype"] for column in uploaded["columns"]}
    assert dtypes == {"produto": "string", "preço": "float64", "promoção": "int64", "vendas": "float64"}, dtypes

    cli.ok("sample", "supplements", str(tmp_path / "sales.xlsx"), "--rows", "30")
    from_excel = json.loads(cli.ok("upload", "--json", str(project_id), str(tmp_path / "sales.xlsx")).stdout)
    assert from_excel["rows"] == 30
    assert {column["name"]: column["dtype"] for column in from_excel["columns"]}["price"] == "float64"

    listed = json.loads(cli.ok("datasets", str(project_id), "--json").stdout)
    assert sorted(dataset["id"] for dataset in listed) == sorted([uploaded["id"], from_excel["id"]])
    table = cli.ok("datasets", str(project_id)).stdout.splitlines()
    assert len(table) == 2 + 2 and {line.split()[0] for line in table[2:]} == {uploaded["id"], from_excel["id"]}

    preview = cli.ok("preview", str(project_id), uploaded["id"], "--csv").stdout.splitlines()
    assert preview == ["produto,preço,promoção,vendas", "Creatina,150.5,1,1234.5", "BCAA,90.0,0,12.25"]
    latest = cli.ok("preview", str(project_id), "--limit", "2", "--csv").stdout.splitlines()
    assert latest[0] == "product,price,promotion,weekday,sales" and len(latest) == 3


def number_or_none(text: str) -> float | None:
    return float(text) if text else None


def numbers(line: str) -> list[float]:
    return [float(value) for value in re.findall(r"-?\d[\d,]*\.\d+", line.replace(",", ""))]


def test_forecast_train_the_next_months_and_their_actuals(logged_in, tmp_path):
    cli = logged_in
    project_id = created_project_id(cli, "Stores")
    history = generate_store_sales(months=54, seed=5)
    trained_on, later = history[history["month"] < "2025-01-01"], history[history["month"] >= "2025-01-01"]
    sales_path, actuals_path = tmp_path / "stores.csv", tmp_path / "sold.csv"
    trained_on.to_csv(sales_path, index=False)
    later.assign(month=later["month"].dt.strftime("%Y-%m-%d")).to_csv(actuals_path, index=False)
    cli.ok("upload", str(project_id), str(sales_path))

    argv = ["train", str(project_id), "--task", "forecast", "--date", "month", "--series", "store", "--horizon", "6"]
    trained = cli.ok(*argv, "--include", "snaive,ets", "--backtest-windows", "2", "--wait", timeout=TRAIN_TIMEOUT_S)
    lines = trained.stdout.splitlines()
    assert lines[0].split() == ["model", "name", "MASE", "MAE", "RMSE", "WAPE", "SMAPE", "fit", "s", "reason"]
    board = {line.split()[0]: line for line in lines[2:] if line.split()[:1] in (["ets"], ["snaive"])}
    assert sorted(board) == ["ets", "snaive"], trained.stdout
    assert "model version 1 serves: the project had no serving model" in trained.stdout
    model = json.loads(cli.ok("models", str(project_id), "1", "--json").stdout)
    assert model["task"] == "forecast" and model["forecast"]["horizon"] == 6
    assert f"forecast model {model['algorithm']}, target sales" in cli.ok("models", str(project_id), "1").stdout

    table = cli.ok("forecast", str(project_id), "--series", "store=Centro", "--horizon", "3").stdout.splitlines()
    assert table[0].split() == ["store", "month", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert [line.split()[:2] for line in table[2:5]] == [
        ["Centro", "2025-01-01"],
        ["Centro", "2025-02-01"],
        ["Centro", "2025-03-01"],
    ]
    assert table[5] == "(model version 1: 3 periods of MS after each series' last date)"
    for line in table[2:5]:
        month, (forecast, lower_80, upper_80, lower_95, upper_95) = line.split()[1], numbers(line)
        assert lower_95 <= lower_80 <= forecast <= upper_80 <= upper_95
        assert abs(forecast - expected_store_sales("Centro", month)) < 40  # the season and the trend, within noise

    rows = list(csv.DictReader(io.StringIO(cli.ok("forecast", str(project_id), "--csv").stdout)))
    assert sorted({row["store"] for row in rows}) == sorted(STORE_LEVELS) and len(rows) == 3 * 6
    saved = tmp_path / "forecast.parquet"
    cli.ok("forecast", str(project_id), "--output", str(saved))
    assert pq.read_table(saved).num_rows == 3 * 6

    report = cli.ok("actuals", str(project_id), str(actuals_path)).stdout
    assert re.match(r"actuals report \d+: 18 rows scored by model version 1 at ", report), report
    metric_lines = {line.split()[0]: line for line in report.split("metric", 1)[1].splitlines()[2:] if line}
    assert {"MAE", "coverage_80", "coverage_95"} <= set(metric_lines), report
    assert "recommendation: keep the model: " in report, report
    listed = cli.ok("actuals", str(project_id), "--csv").stdout.splitlines()
    assert len(listed) == 2 and listed[1].split(",")[2:4] == ["1", "18"]


def test_what_if_explain_actuals_activation_and_exports_of_a_regression_model(logged_in, tmp_path):
    cli = logged_in
    project_id = created_project_id(cli, "Decisions")
    sales_path = tmp_path / "sales.parquet"
    generate_supplements_sales(rows=400, seed=7).to_parquet(sales_path, index=False)
    dataset = json.loads(cli.ok("upload", str(project_id), str(sales_path), "--json").stdout)
    run = json.loads(
        cli.ok("train", str(project_id), "--include", "lr", "--folds", "2", "--wait", "--json", timeout=300).stdout
    )
    assert run["status"] == "succeeded" and run["activation"]["decision"] == "activated"

    base = ["product=Multivitamínico", "promotion=0", "weekday=Saturday"]
    curve = cli.ok("what-if", str(project_id), *base, "--vary", "price=50:350:31", "--revenue-of", "price").stdout
    lines = curve.splitlines()
    assert lines[0].split() == ["price", "prediction", "revenue"] and len(lines) == 2 + 31 + 2
    predictions = [numbers(line)[1] for line in lines[2:33]]
    assert all(later < earlier + 0.5 for earlier, later in zip(predictions, predictions[1:], strict=False))
    best = re.fullmatch(r"best revenue at price = ([\d.]+): prediction [\d.]+, revenue [\d,.]+", lines[33])
    assert best, curve
    rule = {price: price * expected_sales("Multivitamínico", price, 0, "Saturday") for price in range(50, 351, 10)}
    assert abs(float(best.group(1)) - max(rule, key=rule.get)) <= 10

    row = ["product=Creatina", "price=150", "promotion=1", "weekday=Saturday"]
    explained = cli.ok("predict", str(project_id), *row, "--explain").stdout.splitlines()
    prediction = float(re.fullmatch(r"prediction: (-?[\d.]+) \(model version 1\)", explained[0]).group(1))
    baseline = numbers(explained[1])[0]
    assert explained[2].split() == ["feature", "value", "effect"]
    effects = {line.split()[0]: numbers(line)[-1] for line in explained[4:8]}
    assert sorted(effects) == ["price", "product", "promotion", "weekday"]
    assert baseline + sum(effects.values()) == pytest.approx(prediction, abs=1e-3)
    assert effects["promotion"] > 5 and explained[8].startswith("Predicted sales ")

    actuals_path = tmp_path / "sold.parquet"
    generate_supplements_sales(rows=200, seed=9).to_parquet(actuals_path, index=False)
    report = cli.ok("actuals", str(project_id), str(actuals_path)).stdout
    assert "200 rows scored by model version 1" in report and "recommendation: keep the model: " in report, report
    drift = report.split("drift against the training data (population stability index)\n", 1)[1].splitlines()
    assert sorted(line.split()[0] for line in drift[2:6]) == ["price", "product", "promotion", "weekday"]
    report_id = re.match(r"actuals report (\d+):", report).group(1)
    assert json.loads(cli.ok("actuals", str(project_id), report_id, "--json").stdout)["rows"] == 200
    assert cli.ok("actuals", str(project_id)).stdout.splitlines()[2].split()[0] == report_id

    model = json.loads(cli.ok("models", str(project_id), "1", "--json").stdout)
    metrics = list(csv.reader(io.StringIO(cli.ok("models", str(project_id), "1", "--metrics", "--csv").stdout)))
    assert metrics[0] == ["metric", "cv", "holdout"]
    cv, holdout = model["metrics"]["cv"], model["metrics"]["holdout"]
    assert {row[0]: (number_or_none(row[1]), number_or_none(row[2])) for row in metrics[1:]} == {
        name: (cv.get(name), holdout.get(name)) for name in {*cv, *holdout}
    }
    features = list(csv.DictReader(io.StringIO(cli.ok("models", str(project_id), "1", "--csv").stdout)))
    permutation = {entry["feature"]: entry["importance"] for entry in model["permutation_importance"]}
    assert {row["feature"]: float(row["permutation importance"]) for row in features} == permutation
    leaderboard = list(csv.DictReader(io.StringIO(cli.ok("runs", str(project_id), str(run["id"]), "--csv").stdout)))
    assert [row["model"] for row in leaderboard] == [entry["model"] for entry in run["leaderboard"]] == ["lr"]
    assert float(leaderboard[0]["R2"]) == run["leaderboard"][0]["R2"]

    downloaded = tmp_path / "downloaded.parquet"
    cli.ok("download", str(project_id), "--output", str(downloaded))
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == dataset["sha256"]

    challenger = cli.ok(
        "train", str(project_id), "--include", "dt", "--folds", "2", "--activate", "never", "--wait", timeout=300
    ).stdout
    assert "model version 2 does not serve: the train request said activate: never" in challenger, challenger
    assert f"to serve it: salesml activate {project_id} 2" in challenger
    listed = cli.ok("models", str(project_id)).stdout.splitlines()
    versions = {line.split()[0]: line.split() for line in listed[2:]}
    assert versions["1"][:3] == ["1", "lr", "*"] and versions["2"][1] == "dt" and "*" not in versions["2"], listed
