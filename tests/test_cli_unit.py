"""Unit tests of the `salesml` CLI: argument parsing, tables and progress bar, the credential file, token refresh.

No server: the HTTP exchanges of `SalesMLClient` go through an in-memory `requests` transport adapter.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import stat
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from requests.adapters import BaseAdapter

from cli import tabular
from cli.client import ApiError, ClientError, SalesMLClient
from cli.credentials import Credentials, CredentialStore
from cli.main import (
    csv_dialect,
    format_api_error,
    load_json_features,
    main,
    parse_args,
    parse_feature_pairs,
    parse_feature_value,
    report_finished_run,
    training_params,
)
from cli.progress import ProgressLine, follow_run, render_progress
from cli.tables import format_table, leaderboard_table, records_table, runs_table
from demo.store_sales import NOISE_SD, STORE_LEVELS, expected_store_sales
from demo.supplements import generate_supplements_sales
from harness.data import sales_frame
from shared import tabular_files
from shared.config import REPO_ROOT
from tests.helpers.servers import served

URL = "http://gateway.test"


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("SALESML_CONFIG_DIR", str(folder))
    monkeypatch.delenv("SALESML_PASSWORD", raising=False)
    monkeypatch.delenv("SALESML_URL", raising=False)
    return folder


# --- parsing ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("150", 150), ("-3", -3), ("19.9", 19.9), ("1e3", 1000.0), ("Creatina", "Creatina"), ("nan", "nan"), ("", "")],
)
def test_feature_values_become_numbers_when_they_are_numbers(text, value):
    parsed = parse_feature_value(text)
    assert parsed == value
    assert type(parsed) is type(value)


def test_predict_pairs_become_one_row():
    args = parse_args(["predict", "7", "price=150", "promotion=1", "product=Creatina", "weekday=Saturday"])
    assert args.project_id == 7
    assert args.features == ["price=150", "promotion=1", "product=Creatina", "weekday=Saturday"]
    assert parse_feature_pairs(args.features) == {
        "price": 150,
        "promotion": 1,
        "product": "Creatina",
        "weekday": "Saturday",
    }


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "1"],
        ["predict", "1", "price"],
        ["predict", "1", "=3"],
        ["predict", "1", "price=3", "--input", "rows.parquet"],
        ["predict", "1", "--input", "rows.json", "--output", "out.parquet"],
        ["predict", "1", "--output", "out.parquet"],
        ["predict", "1", "price=3", "--json", "--csv"],
        ["projects", "create", "Loja", "--csv"],
        ["logout", "--json"],
        ["upload", "1", "sales.csv", "--sep", "ab"],
        ["upload", "1", "sales.csv", "--decimal", ";"],
        ["sample", "unknown", "sales.csv"],
        ["train", "1", "--sort", "accuracy"],
        ["train", "1", "--include", ","],
        ["upload", "one", "file.parquet"],
        ["train", "1", "--task", "classification"],
        ["train", "1", "--activate", "sometimes"],
        ["train", "1", "--horizon", "six"],
        ["forecast", "1", "--series", "S1"],
        ["forecast", "1", "--horizon"],
        ["what-if", "1", "price=1"],
        ["what-if", "1", "product=BCAA", "--vary", "price"],
        ["what-if", "1", "product=BCAA", "--vary", "price=cheap:dear:3"],
        ["what-if", "1", "product=BCAA", "--vary", "price=1:2:2.5"],
        ["what-if", "1", "product", "--vary", "price=1,2"],
        ["predict", "1", "--input", "rows.csv", "--explain"],
        ["models", "1", "--metrics"],
        ["download", "1"],
        ["actuals", "one"],
    ],
)
def test_bad_usage_exits_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_train_sends_only_the_options_given():
    assert training_params(parse_args(["train", "3"])) == {}
    args = parse_args(["train", "3", "--include", "lr, ridge", "--folds", "3", "--sort", "MAE", "--time-budget", "300"])
    assert training_params(args) == {"include": ["lr", "ridge"], "folds": 3, "sort": "MAE", "time_budget_s": 300}
    assert args.wait is False
    assert parse_args(["train", "3", "--wait"]).wait is True
    dataset_id = "0b7e1c8e-54f4-4b8e-9d51-0f7d3c1c2a10"
    assert training_params(parse_args(["train", "3", "--dataset", dataset_id])) == {"dataset_id": dataset_id}


def test_projects_lists_by_default_and_creates_with_options():
    assert parse_args(["projects"]).projects_command is None
    args = parse_args(["projects", "create", "Loja", "--target", "units", "--description", "shop"])
    assert (args.projects_command, args.name, args.target, args.description) == ("create", "Loja", "units", "shop")


def test_url_comes_from_the_option_then_the_environment(monkeypatch):
    assert parse_args(["whoami"]).url == "http://localhost:8000"
    monkeypatch.setenv("SALESML_URL", "http://example.test:9000")
    assert parse_args(["whoami"]).url == "http://example.test:9000"
    assert parse_args(["--url", "http://other.test", "whoami"]).url == "http://other.test"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"price": 150, "product": "BCAA"}, {"price": 150, "product": "BCAA"}),
        ([{"price": 1}, {"price": 2}], [{"price": 1}, {"price": 2}]),
        ({"records": [{"price": 1}]}, [{"price": 1}]),
    ],
)
def test_json_features_are_an_object_or_records(tmp_path, content, expected):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(content))
    assert load_json_features(str(path)) == expected


@pytest.mark.parametrize("text", ["[1, 2]", "42", "{not json"])
def test_json_features_refuse_other_shapes(tmp_path, text):
    path = tmp_path / "rows.json"
    path.write_text(text)
    with pytest.raises(ClientError):
        load_json_features(str(path))


# --- output -------------------------------------------------------------------------------------------------------


def test_progress_bar_shows_fraction_and_stage():
    run = {"status": "running", "progress": 0.52, "stage": "comparing models (lightgbm)"}
    assert render_progress(run, width=10) == "[#####-----] 52% comparing models (lightgbm)"
    assert render_progress({"status": "queued", "progress": 0, "stage": None}, width=4) == "[----] 0% queued"
    assert render_progress({"status": "succeeded", "progress": 0.97, "stage": "x"}, width=4) == "[####] 100% succeeded"
    assert render_progress({"status": "failed", "progress": 0.3, "stage": "x"}, width=10) == "[###-------] 30% failed"


def test_progress_line_redraws_in_place_and_pads_shorter_text():
    stream = io.StringIO()
    line = ProgressLine(stream)
    line.show("[##--] 50% comparing models")
    line.show("[##--] 50% comparing models")
    line.show("[###-] 75% done")
    line.close()
    first, second = "[##--] 50% comparing models", "[###-] 75% done"
    assert stream.getvalue() == f"\r{first}\r{second.ljust(len(first))}\n"


def test_table_aligns_columns_and_right_aligns_numbers():
    table = format_table(["model", "R2"], [["lr", 0.5], ["lightgbm", 0.91234]])
    assert table.splitlines() == [
        "model         R2",
        "--------  ------",
        "lr        0.5000",
        "lightgbm  0.9123",
    ]


def test_leaderboard_keeps_the_servers_order():
    board = [
        {"model": "rf", "name": "Random Forest Regressor", "R2": 0.9, "MAE": 3.0, "fit_seconds": 1.25},
        {"model": "lr", "name": "Linear Regression", "R2": 0.7, "MAE": 5.5, "fit_seconds": 0.1},
    ]
    lines = leaderboard_table(board).text().splitlines()
    assert lines[0].split() == ["model", "name", "MAE", "MSE", "RMSE", "R2", "RMSLE", "MAPE", "fit", "s"]
    assert lines[2].startswith("rf  ") and "Random Forest Regressor" in lines[2] and "0.9000" in lines[2]
    assert lines[3].startswith("lr  ")


def test_api_error_prints_message_and_each_field():
    error = ApiError(422, "Missing feature columns.", {"weekday": ["missing"], "price": ["not a number", "required"]})
    assert format_api_error(error) == (
        "error: Missing feature columns.\n  weekday: missing\n  price: not a number; required"
    )


# --- credentials --------------------------------------------------------------------------------------------------


def test_credentials_file_is_private_and_keyed_by_gateway(config_dir):
    store = CredentialStore()
    store.save(URL, Credentials("ana", "access-1", "refresh-1"))
    store.save("http://other.test", Credentials("bob", "access-2", "refresh-2"))
    path = config_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert store.load(URL) == Credentials("ana", "access-1", "refresh-1")
    store.forget(URL)
    assert store.load(URL) is None
    assert store.load("http://other.test").username == "bob"


def test_credentials_file_made_readable_by_others_is_rewritten_private(config_dir):
    config_dir.mkdir(mode=0o755)
    path = config_dir / "credentials.json"
    path.write_text("{}")
    path.chmod(0o644)
    CredentialStore().save(URL, Credentials("ana", "a", "r"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700


def test_corrupt_credentials_file_means_not_logged_in(config_dir):
    config_dir.mkdir()
    (config_dir / "credentials.json").write_text("not json")
    assert CredentialStore().load(URL) is None


# --- client -------------------------------------------------------------------------------------------------------


class ScriptedAdapter(BaseAdapter):
    """Answers requests from a list of (method, path, status, body[, headers]) and records what was sent; a body of
    bytes is sent as it is (a parquet answer), anything else as JSON. A file sent is recorded as its bytes."""

    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)
        self.sent = []

    def send(self, request, **kwargs):
        method, path, status, body, *headers = self.answers.pop(0)
        assert (request.method, request.path_url.split("?")[0]) == (method, "/api/v1" + path)
        if hasattr(request.body, "read"):
            request.body = request.body.read()
        self.sent.append(request)
        response = requests.Response()
        response.status_code = status
        response.reason = "scripted"
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
        response._content_consumed = True  # what a streamed answer reads is the content above
        response.headers["Content-Type"] = "application/json"
        response.headers.update(headers[0] if headers else {})
        response.request = request
        response.url = request.url
        return response

    def close(self):
        pass


def scripted_client(answers) -> tuple[SalesMLClient, ScriptedAdapter]:
    adapter = ScriptedAdapter(answers)
    session = requests.Session()
    session.mount("http://", adapter)
    return SalesMLClient(URL + "/", session=session), adapter


def test_login_stores_tokens_and_requests_send_them():
    client, adapter = scripted_client(
        [
            ("POST", "/auth/login", 200, {"access_token": "a1", "refresh_token": "r1", "token_type": "Bearer"}),
            ("GET", "/auth/me", 200, {"id": 1, "username": "ana"}),
        ]
    )
    client.login("ana", "password123")
    assert json.loads(adapter.sent[0].body) == {"username": "ana", "password": "password123"}
    assert "Authorization" not in adapter.sent[0].headers
    assert client.me()["username"] == "ana"
    assert adapter.sent[1].headers["Authorization"] == "Bearer a1"


def test_expired_access_token_is_refreshed_once_and_the_request_retried():
    CredentialStore().save(URL, Credentials("ana", "old", "r1"))
    client, adapter = scripted_client(
        [
            ("GET", "/projects/4", 401, {"code": 401, "status": "Unauthorized", "message": "Token has expired."}),
            ("POST", "/auth/refresh", 200, {"access_token": "new"}),
            ("GET", "/projects/4", 200, {"id": 4}),
        ]
    )
    assert client.get_project(4) == {"id": 4}
    assert [r.headers["Authorization"] for r in adapter.sent] == ["Bearer old", "Bearer r1", "Bearer new"]
    assert CredentialStore().load(URL).access_token == "new"


def test_refused_refresh_asks_to_log_in_again_and_forgets_tokens():
    CredentialStore().save(URL, Credentials("ana", "old", "r1"))
    client, _ = scripted_client(
        [
            ("GET", "/projects/4", 401, {"code": 401, "status": "Unauthorized", "message": "Token has expired."}),
            ("POST", "/auth/refresh", 401, {"code": 401, "status": "Unauthorized", "message": "revoked"}),
        ]
    )
    with pytest.raises(ClientError, match="salesml login"):
        client.get_project(4)
    assert CredentialStore().load(URL) is None


def test_a_second_401_after_refresh_is_reported_not_retried():
    CredentialStore().save(URL, Credentials("ana", "old", "r1"))
    unauthorized = {"code": 401, "status": "Unauthorized", "message": "Token has been revoked."}
    client, adapter = scripted_client(
        [
            ("GET", "/projects/4", 401, unauthorized),
            ("POST", "/auth/refresh", 200, {"access_token": "new"}),
            ("GET", "/projects/4", 401, unauthorized),
        ]
    )
    with pytest.raises(ApiError, match="revoked") as raised:
        client.get_project(4)
    assert raised.value.code == 401
    assert adapter.answers == []


def test_api_errors_carry_message_and_field_errors():
    CredentialStore().save(URL, Credentials("ana", "a", "r"))
    body = {"code": 422, "status": "Unprocessable Entity", "message": "Invalid features.", "errors": {"price": ["x"]}}
    client, _ = scripted_client([("POST", "/projects/2/predict", 422, body)])
    with pytest.raises(ApiError) as raised:
        client.predict(2, {"product": "BCAA"})
    assert (raised.value.code, raised.value.message, raised.value.errors) == (
        422,
        "Invalid features.",
        {"price": ["x"]},
    )


def test_records_are_sent_as_records_and_one_row_flat():
    CredentialStore().save(URL, Credentials("ana", "a", "r"))
    client, adapter = scripted_client(
        [
            ("POST", "/projects/2/predict", 200, {"prediction": 3.5, "model_version": 1}),
            ("POST", "/projects/2/predict", 200, {"predictions": [1.0, 2.0], "model_version": 1}),
        ]
    )
    client.predict(2, {"price": 1})
    client.predict(2, [{"price": 1}, {"price": 2}], version=1)
    assert json.loads(adapter.sent[0].body) == {"price": 1}
    assert json.loads(adapter.sent[1].body) == {"records": [{"price": 1}, {"price": 2}]}
    assert adapter.sent[1].path_url.endswith("?version=1")


def test_follow_run_polls_until_finished_and_survives_a_brief_outage():
    unavailable = ApiError(503, "A service this request depends on is unavailable; retry shortly.")
    answers = [
        {"id": 9, "status": "running", "progress": 0.5, "stage": "comparing models (lr)"},
        unavailable,
        {"id": 9, "status": "succeeded", "progress": 1.0, "stage": "done", "leaderboard": []},
    ]

    class Runs:
        def get_run(self, project_id, run_id):
            assert (project_id, run_id) == (3, 9)
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

    stream = io.StringIO()
    start = {"id": 9, "status": "queued", "progress": 0.0, "stage": None}
    finished = follow_run(Runs(), 3, start, stream=stream, sleep=lambda _: None)
    assert finished["status"] == "succeeded"
    output = stream.getvalue()
    assert "0% queued" in output and "50% comparing models (lr)" in output and "100% succeeded" in output
    assert output.endswith("\n") and output.count("\n") == 1


def test_follow_run_stops_on_a_client_error():
    class Runs:
        def get_run(self, project_id, run_id):
            raise ApiError(404, "Not found.")

    with pytest.raises(ApiError):
        follow_run(Runs(), 3, {"id": 9, "status": "queued"}, stream=io.StringIO(), sleep=lambda _: None)


# --- the command as a whole ---------------------------------------------------------------------------------------


def test_unreachable_gateway_is_one_line_not_a_traceback(capsys):
    assert main(["--url", "http://127.0.0.1:9", "login", "ana", "--password", "password123"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "error: cannot reach the SalesML gateway at http://127.0.0.1:9"


def test_commands_need_a_login_first(capsys):
    assert main(["--url", "http://127.0.0.1:9", "projects"]) == 1
    assert "not logged in" in capsys.readouterr().err


def test_missing_upload_file_is_reported(tmp_path, capsys):
    CredentialStore().save("http://127.0.0.1:9", Credentials("ana", "a", "r"))
    assert main(["--url", "http://127.0.0.1:9", "upload", "1", str(tmp_path / "nope.csv")]) == 1
    assert "no such file" in capsys.readouterr().err


# --- files --------------------------------------------------------------------------------------------------------


def test_csv_becomes_parquet_with_inferred_types(tmp_path):
    source = tmp_path / "sales.csv"
    source.write_text("product,price,promotion,sales\nCreatina,150.5,1,30\nBCAA,90,0,12\n")
    converted = tmp_path / "sales.parquet"
    tabular_files.csv_to_parquet(source, converted, tabular_files.detect_csv_dialect(source))
    table = pq.read_table(converted)
    assert table.column_names == ["product", "price", "promotion", "sales"]
    assert table.schema.field("price").type == pa.float64()
    assert table.schema.field("sales").type == pa.int64()
    assert table.column("product").to_pylist() == ["Creatina", "BCAA"]


def test_csv_whose_type_changes_after_the_first_block_still_converts(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular_files, "CSV_BLOCK_BYTES", 64)
    source = tmp_path / "sales.csv"
    source.write_text("price\n" + "1\n" * 100 + "2.5\n")
    converted = tmp_path / "sales.parquet"
    tabular_files.csv_to_parquet(source, converted, tabular_files.detect_csv_dialect(source))
    column = pq.read_table(converted).column("price")
    assert column.type == pa.float64() and len(column) == 101 and column[-1].as_py() == 2.5


def test_other_suffixes_are_refused(tmp_path):
    path = tmp_path / "sales.xls"
    path.write_bytes(b"PK")
    with pytest.raises(tabular.UnsupportedFile, match="expected a .parquet, .csv or .xlsx"):
        with tabular.open_as_parquet(path):
            pass


def test_prediction_comes_last_when_rows_differ():
    table = records_table(
        [{"price": 1, "prediction": 2.0}, {"price": 3, "sales": 4, "prediction": 5.0}], last="prediction"
    )
    assert table.text().splitlines()[0].split() == ["price", "sales", "prediction"]
    assert table.text().splitlines()[2].split() == ["1", "-", "2.0000"]


def test_runs_table_shows_short_utc_times_and_the_best_model():
    run = {
        "id": 4,
        "status": "succeeded",
        "stage": "succeeded",
        "progress": 1.0,
        "created_at": "2026-11-30T10:35:46.220510+00:00",
        "leaderboard": [{"model": "lr"}, {"model": "dt"}],
        "model_version": 2,
    }
    assert runs_table([run]).text().splitlines()[2].split() == [
        "4",
        "succeeded",
        "succeeded",
        "100%",
        "2026-11-30",
        "10:35:46",
        "lr",
        "2",
    ]


# --- options anywhere ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "14", "--version", "2", "price=150", "product=BCAA"],
        ["predict", "14", "price=150", "--version", "2", "product=BCAA"],
        ["predict", "--version", "2", "14", "price=150", "product=BCAA"],
        ["predict", "14", "price=150", "product=BCAA", "--version", "2"],
    ],
)
def test_predict_options_may_come_before_between_or_after_the_pairs(argv):
    args = parse_args(argv)
    assert (args.project_id, args.version, args.features) == (14, 2, ["price=150", "product=BCAA"])


def test_shared_options_may_come_before_or_after_the_command():
    assert parse_args(["--url", "http://a.test", "whoami"]).url == "http://a.test"
    assert parse_args(["whoami", "--url", "http://b.test"]).url == "http://b.test"
    assert parse_args(["projects", "--json", "list"]).output == "json"
    assert parse_args(["projects", "list", "--csv"]).output == "csv"
    args = parse_args(["projects", "create", "--json", "Loja", "--target", "units"])
    assert (args.projects_command, args.name, args.target, args.output) == ("create", "Loja", "units", "json")
    args = parse_args(["runs", "--csv", "3", "9"])
    assert (args.project_id, args.run_id, args.output) == (3, 9, "csv")
    assert parse_args(["projects"]).output is None


def test_csv_options_are_read_anywhere_and_tab_has_a_name():
    args = parse_args(["upload", "--sep", ";", "4", "vendas.csv", "--decimal", ","])
    assert (args.project_id, args.file.name, args.sep, args.decimal) == (4, "vendas.csv", ";", ",")
    assert parse_args(["upload", "4", "vendas.csv", "--sep", "tab"]).sep == "\t"
    assert parse_args(["upload", "4", "vendas.csv"]).sep is None


# --- --json and --csv -----------------------------------------------------------------------------------------------

PROJECTS = [
    {"id": 1, "name": "Loja", "target": "sales", "status": "ready", "active_model": 2, "latest_dataset": "d1"},
    {
        "id": 2,
        "name": "Nova, loja",
        "target": "units",
        "status": "pending",
        "active_model": None,
        "latest_dataset": None,
    },
]


def logged_in_client(answers) -> tuple[SalesMLClient, ScriptedAdapter]:
    CredentialStore().save(URL, Credentials("ana", "a", "r"))
    return scripted_client(answers)


@pytest.mark.parametrize("output", [[], ["--json"], ["--csv"]])
def test_every_table_command_prints_text_json_or_csv(output, capsys):
    client, _ = logged_in_client([("GET", "/projects", 200, PROJECTS)])
    args = parse_args(["projects", *output])
    assert args.handler(client, args) == 0
    printed = capsys.readouterr().out
    if output == ["--json"]:
        assert json.loads(printed) == PROJECTS
    elif output == ["--csv"]:
        rows = list(csv.reader(io.StringIO(printed)))
        assert rows == [
            ["id", "name", "target", "status", "active model", "latest dataset"],
            ["1", "Loja", "sales", "ready", "2", "d1"],
            ["2", "Nova, loja", "units", "pending", "", ""],
        ]
    else:
        assert printed.splitlines()[0].split()[:3] == ["id", "name", "target"]
        assert printed.splitlines()[3].split()[:3] == ["2", "Nova,", "loja"]


def test_csv_keeps_full_precision_and_json_the_apis_object(capsys):
    model = {"version": 1, "algorithm": "lr", "active": True, "metrics": {"cv": {"R2": 0.987654321}, "holdout": {}}}
    client, _ = logged_in_client([("GET", "/projects/3/models", 200, [model])] * 2)
    args = parse_args(["models", "3", "--csv"])
    args.handler(client, args)
    assert list(csv.reader(io.StringIO(capsys.readouterr().out)))[1][4] == "0.987654321"
    args = parse_args(["models", "--json", "3"])
    args.handler(client, args)
    assert json.loads(capsys.readouterr().out) == [model]


def test_one_row_prediction_as_text_json_and_csv(capsys):
    answer = {"prediction": 148.25, "model_version": 2}
    client, adapter = logged_in_client([("POST", "/projects/5/predict", 200, answer)] * 3)
    printed = []
    for output in ([], ["--json"], ["--csv"]):
        args = parse_args(["predict", "5", "price=150", *output, "product=BCAA"])
        assert args.handler(client, args) == 0
        printed.append(capsys.readouterr().out)
    assert [json.loads(request.body) for request in adapter.sent] == [{"price": 150, "product": "BCAA"}] * 3
    as_text, as_json, as_csv = printed
    assert as_text == "prediction: 148.2500 (model version 2)\n"
    assert json.loads(as_json) == answer
    assert as_csv.splitlines() == ["price,product,prediction", "150,BCAA,148.25"]


def test_predict_reads_json_rows_from_input(tmp_path, capsys):
    rows = [{"price": 1, "product": "BCAA"}, {"price": 2, "product": "Creatina"}]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"records": rows}))
    client, adapter = logged_in_client([("POST", "/projects/5/predict", 200, {"predictions": [3.0, 4.0]})])
    args = parse_args(["predict", "5", "--input", str(path), "--csv"])
    assert args.handler(client, args) == 0
    assert json.loads(adapter.sent[0].body) == {"records": rows}
    assert capsys.readouterr().out.splitlines() == ["price,product,prediction", "1,BCAA,3.0", "2,Creatina,4.0"]


# --- datasets, preview, one model ---------------------------------------------------------------------------------

DATASET = {
    "id": "0b7e1c8e-54f4-4b8e-9d51-0f7d3c1c2a10",
    "filename": "vendas.parquet",
    "rows": 2000,
    "size_bytes": 41234,
    "created_at": "2026-11-30T10:35:46.220510+00:00",
    "columns": [{"name": "price", "dtype": "double"}, {"name": "sales", "dtype": "double"}],
}


def test_datasets_lists_every_page(capsys):
    second = {**DATASET, "id": "second"}
    client, adapter = logged_in_client(
        [
            ("GET", "/projects/3/datasets", 200, [DATASET], {"X-Pagination": json.dumps({"next_page": 2})}),
            ("GET", "/projects/3/datasets", 200, [second]),
        ]
    )
    args = parse_args(["datasets", "3"])
    assert args.handler(client, args) == 0
    assert [request.path_url.split("?")[1] for request in adapter.sent] == [
        "page=1&page_size=100",
        "page=2&page_size=100",
    ]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "filename", "rows", "columns", "bytes", "created", "(UTC)"]
    assert lines[2].split() == [DATASET["id"], "vendas.parquet", "2000", "2", "41234", "2026-11-30", "10:35:46"]
    assert lines[3].split()[0] == "second"


def test_preview_shows_the_latest_dataset_by_default_in_the_columns_order(capsys):
    preview = {"columns": ["product", "price"], "records": [{"price": 150.5, "product": "Creatina"}]}
    client, adapter = logged_in_client(
        [
            ("GET", "/projects/3", 200, {"id": 3, "latest_dataset": DATASET["id"]}),
            ("GET", f"/projects/3/datasets/{DATASET['id']}/preview", 200, preview),
        ]
    )
    args = parse_args(["preview", "3", "--limit", "5", "--csv"])
    assert args.handler(client, args) == 0
    assert adapter.sent[1].path_url.endswith("?limit=5")
    assert capsys.readouterr().out.splitlines() == ["product,price", "Creatina,150.5"]


def test_preview_of_a_project_without_data_says_so():
    client, _ = logged_in_client([("GET", "/projects/3", 200, {"id": 3, "latest_dataset": None})])
    args = parse_args(["preview", "3"])
    with pytest.raises(ClientError, match="no dataset yet"):
        args.handler(client, args)


MODEL = {
    "version": 2,
    "algorithm": "lr",
    "target": "sales",
    "training_run_id": 7,
    "created_at": "2026-11-30T10:35:46.220510+00:00",
    "active": True,
    "metrics": {"cv": {"MAE": 2.5, "R2": 0.98}, "holdout": {"MAE": 2.75, "R2": 0.97}},
    "features": [
        {
            "name": "product",
            "dtype": "object",
            "categories": ["BCAA", "Creatina", "Glutamina", "Multi", "Whey", "Zinco"],
        },
        {"name": "price", "dtype": "float64", "min": 50.1, "max": 349.9},
        {"name": "promotion", "dtype": "int64", "min": 0.0, "max": 1.0},
    ],
    "feature_importance": [
        {"feature": "promotion", "importance": 0.25},
        {"feature": "price", "importance": 1.0},
        {"feature": "product", "importance": 0.5},
    ],
}


def test_one_model_shows_metrics_features_and_ranked_importance(capsys):
    client, _ = logged_in_client([("GET", "/projects/3/models/2", 200, MODEL)])
    args = parse_args(["models", "3", "2"])
    assert args.handler(client, args) == 0
    text = capsys.readouterr().out
    assert text.startswith("model version 2 (active")
    assert "regression model lr, target sales, trained by run 7" in text
    metrics = text.split("metric", 1)[1].splitlines()
    assert metrics[2].split() == ["MAE", "2.5000", "2.7500"] and metrics[3].split() == ["R2", "0.9800", "0.9700"]
    assert "BCAA, Creatina, Glutamina, Multi, Whey, and 1 more" in text
    assert "50.1 to 349.9" in text and "0 to 1" in text
    bars = text.split("feature importance\n", 1)[1].splitlines()
    assert [line.split()[0] for line in bars] == ["price", "product", "promotion"]
    assert [line.count("#") for line in bars] == [30, 15, 8]


def test_a_version_trained_before_permutation_importance_shows_its_own_ranked(capsys):
    client, _ = logged_in_client([("GET", "/projects/3/models/2", 200, {**MODEL, "permutation_importance": None})])
    args = parse_args(["models", "3", "2"])
    assert args.handler(client, args) == 0
    bars = capsys.readouterr().out.split("feature importance\n", 1)[1].splitlines()
    assert [line.split() for line in bars][0] == ["price", "#" * 30, "1.0000"]


MODEL_WITH_PERMUTATION = {
    **MODEL,
    "permutation_importance": [
        {"feature": "price", "importance": 60.0},
        {"feature": "product", "importance": 6.0},
        {"feature": "promotion", "importance": 30.0},
    ],
}


def test_one_model_shows_permutation_importance_in_target_units_beside_its_own(capsys):
    client, _ = logged_in_client([("GET", "/projects/3/models/2", 200, MODEL_WITH_PERMUTATION)])
    args = parse_args(["models", "3", "2"])
    assert args.handler(client, args) == 0
    heading = (
        "\n\nfeature importance (bars: how much the holdout MAE grows, in sales, when the column is shuffled; "
        "then the model's own)\n"
    )
    bars = capsys.readouterr().out.split(heading, 1)[1].splitlines()
    assert [line.split() for line in bars] == [
        ["price", "#" * 30, "60.0000", "1.0000"],
        ["promotion", "#" * 15, "30.0000", "0.2500"],
        ["product", "###", "6.0000", "0.5000"],
    ]


def test_one_model_as_csv_has_a_row_per_feature_with_both_importances(capsys):
    client, _ = logged_in_client([("GET", "/projects/3/models/2", 200, MODEL_WITH_PERMUTATION)])
    args = parse_args(["models", "3", "2", "--csv"])
    args.handler(client, args)
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["feature", "dtype", "min", "max", "categories", "importance", "permutation importance"]
    assert rows[1] == ["product", "object", "", "", "BCAA | Creatina | Glutamina | Multi | Whey | Zinco", "0.5", "6.0"]
    assert rows[2] == ["price", "float64", "50.1", "349.9", "", "1.0", "60.0"]


def test_a_model_versions_metrics_export_as_csv_text_or_json(capsys):
    client, _ = logged_in_client([("GET", "/projects/3/models/2", 200, MODEL)] * 3)
    printed = []
    for output in (["--csv"], [], ["--json"]):
        args = parse_args(["models", "3", "2", "--metrics", *output])
        assert args.handler(client, args) == 0
        printed.append(capsys.readouterr().out)
    as_csv, as_text, as_json = printed
    assert list(csv.reader(io.StringIO(as_csv))) == [
        ["metric", "cv", "holdout"],
        ["MAE", "2.5", "2.75"],
        ["R2", "0.98", "0.97"],
    ]
    assert as_text.splitlines()[2].split() == ["MAE", "2.5000", "2.7500"]
    assert json.loads(as_json) == MODEL["metrics"]


FORECAST_MODEL = {
    "version": 4,
    "algorithm": "ets",
    "target": "sales",
    "training_run_id": 9,
    "created_at": "2026-11-30T10:35:46.220510+00:00",
    "active": True,
    "task": "forecast",
    "metrics": {"backtest": {"MASE": 0.1666, "MAE": 4.01, "RMSE": 4.78, "WAPE": 0.0083, "SMAPE": 0.0093}},
    "forecast": {
        "date_column": "month",
        "series_columns": ["store"],
        "frequency": "MS",
        "horizon": 6,
        "known_future": [],
        "last_dates": [{"store": "S0", "month": "2021-12-01"}],
        "series_count": 3,
        "interval_coverage": {"80": 0.8611, "95": 0.9722},
    },
    "features": [{"name": "store", "dtype": "object", "categories": ["S0", "S1", "S2"]}],
    "feature_importance": [],
    "permutation_importance": [],
}


def test_a_forecast_model_shows_its_series_horizon_coverage_and_backtest_metrics(capsys):
    client, _ = logged_in_client([("GET", "/projects/3/models/4", 200, FORECAST_MODEL)] * 2)
    args = parse_args(["models", "3", "4"])
    assert args.handler(client, args) == 0
    text = capsys.readouterr().out
    assert "forecast model ets, target sales, trained by run 9" in text
    assert (
        "forecasts 6 periods (MS) of 3 series after their last dates; date column month, series columns store" in text
    )
    assert "86% of the actuals fell in the 80% interval and 97% in the 95% one" in text
    metrics = text.split("metric", 1)[1].splitlines()
    assert metrics[0].split() == ["backtest"]
    assert [line.split()[0] for line in metrics[2:7]] == ["MAE", "RMSE", "MASE", "WAPE", "SMAPE"]
    assert "feature importance" not in text
    args = parse_args(["models", "3", "4", "--metrics", "--csv"])
    args.handler(client, args)
    assert capsys.readouterr().out.splitlines()[:2] == ["metric,backtest", "MAE,4.01"]


# --- training: forecasts and activation -----------------------------------------------------------------------------


def test_train_forecast_options_become_the_forecast_fields_of_the_request():
    argv = ["train", "3", "--task", "forecast", "--date", "month", "--series", "store", "--horizon", "6"]
    argv += ["--series", "product", "--known-future", "promo", "--frequency", "MS", "--backtest-windows", "2"]
    argv += ["--include", "snaive,ets", "--sort", "MASE", "--activate", "never"]
    assert training_params(parse_args(argv)) == {
        "task": "forecast",
        "date_column": "month",
        "series_columns": ["store", "product"],
        "horizon": 6,
        "known_future": ["promo"],
        "frequency": "MS",
        "backtest_windows": 2,
        "include": ["snaive", "ets"],
        "sort": "MASE",
        "activate": "never",
    }
    assert training_params(parse_args(["train", "3", "--activate", "always"])) == {"activate": "always"}


FORECAST_RUN = {
    "id": 9,
    "project_id": 3,
    "status": "succeeded",
    "stage": "succeeded",
    "progress": 1.0,
    "params": {"task": "forecast", "sort": "MASE"},
    "model_version": 4,
    "leaderboard": [
        {
            "model": "ets",
            "name": "AutoETS",
            "MASE": 0.1666,
            "MAE": 4.01,
            "RMSE": 4.78,
            "WAPE": 0.0083,
            "SMAPE": 0.0093,
            "fit_seconds": 0.4,
            "reason": "serves: the best backtest score",
        },
        {
            "model": "snaive",
            "name": "Seasonal Naive",
            "MASE": 1.09,
            "MAE": 26.2,
            "RMSE": 30.1,
            "WAPE": 0.054,
            "SMAPE": 0.055,
            "fit_seconds": 0.01,
            "reason": "the reference every served forecast must beat",
        },
    ],
    "activation": {
        "decision": "not_activated",
        "reason": "it does not beat the serving model (version 3) on this run's holdout: MASE 0.1666 against 0.15",
    },
}


def test_a_finished_forecast_run_shows_backtest_scores_reasons_and_that_it_does_not_serve(capsys):
    assert report_finished_run(FORECAST_RUN) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "name", "MASE", "MAE", "RMSE", "WAPE", "SMAPE", "fit", "s", "reason"]
    assert lines[2].split()[:3] == ["ets", "AutoETS", "0.1666"] and lines[2].endswith("serves: the best backtest score")
    assert lines[3].split()[:4] == ["snaive", "Seasonal", "Naive", "1.0900"]
    assert lines[4:] == [
        "run 9 succeeded: model version 4",
        "model version 4 does not serve: it does not beat the serving model (version 3) on this run's holdout: "
        "MASE 0.1666 against 0.15",
        "to serve it: salesml activate 3 4",
    ]


def test_a_run_whose_model_serves_says_why_with_no_hint(capsys):
    run = {**FORECAST_RUN, "activation": {"decision": "activated", "reason": "the project had no serving model"}}
    assert report_finished_run(run) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "model version 4 serves: the project had no serving model"


REGRESSION_RUN = {
    "id": 5,
    "project_id": 3,
    "status": "succeeded",
    "stage": "succeeded",
    "progress": 1.0,
    "created_at": "2026-11-30T10:35:46.220510+00:00",
    "params": {"task": "regression", "sort": "R2"},
    "model_version": 1,
    "leaderboard": [
        {
            "model": "lr",
            "name": "Linear Regression",
            "MAE": 2.5,
            "MSE": 9.75,
            "RMSE": 3.1225,
            "R2": 0.987654321,
            "RMSLE": 0.05,
            "MAPE": 0.03,
            "fit_seconds": 0.25,
            "reason": None,
        },
        {
            "model": "dt",
            "name": "Decision Tree Regressor",
            "MAE": 4.0,
            "MSE": 25.0,
            "RMSE": 5.0,
            "R2": 0.9,
            "RMSLE": 0.08,
            "MAPE": 0.05,
            "fit_seconds": 0.5,
            "reason": None,
        },
    ],
    "activation": {"decision": "activated", "reason": "the project had no serving model"},
}


def test_one_runs_csv_is_its_leaderboard_with_full_precision(capsys):
    client, _ = logged_in_client([("GET", "/projects/3/training-runs/5", 200, REGRESSION_RUN)] * 2)
    args = parse_args(["runs", "3", "5", "--csv"])
    assert args.handler(client, args) == 0
    assert list(csv.reader(io.StringIO(capsys.readouterr().out))) == [
        ["model", "name", "MAE", "MSE", "RMSE", "R2", "RMSLE", "MAPE", "fit s"],
        ["lr", "Linear Regression", "2.5", "9.75", "3.1225", "0.987654321", "0.05", "0.03", "0.25"],
        ["dt", "Decision Tree Regressor", "4.0", "25.0", "5.0", "0.9", "0.08", "0.05", "0.5"],
    ]
    args = parse_args(["runs", "3", "5"])
    args.handler(client, args)
    assert "model version 1 serves: the project had no serving model" in capsys.readouterr().out


# --- forecast -------------------------------------------------------------------------------------------------------

FORECAST_ANSWER = {
    "model_version": 4,
    "frequency": "MS",
    "horizon": 2,
    "forecasts": [
        {
            "store": "S1",
            "month": "2022-01-01",
            "forecast": 412.5,
            "lower_80": 400.0,
            "upper_80": 425.0,
            "lower_95": 393.5,
            "upper_95": 431.5,
        },
        {
            "store": "S1",
            "month": "2022-02-01",
            "forecast": 420.25,
            "lower_80": 405.0,
            "upper_80": 435.5,
            "lower_95": 397.0,
            "upper_95": 443.5,
        },
    ],
}


def test_forecast_sends_the_horizon_and_series_and_prints_text_json_or_csv(capsys):
    client, adapter = logged_in_client([("POST", "/projects/3/forecast", 200, FORECAST_ANSWER)] * 3)
    printed = []
    for output in ([], ["--json"], ["--csv"]):
        args = parse_args(["forecast", "3", "--series", "store=S1", "--horizon", "2", *output, "--version", "4"])
        assert args.handler(client, args) == 0
        printed.append(capsys.readouterr().out)
    assert [json.loads(request.body) for request in adapter.sent] == [{"horizon": 2, "series": [{"store": "S1"}]}] * 3
    assert adapter.sent[0].path_url.endswith("?version=4")
    as_text, as_json, as_csv = printed
    lines = as_text.splitlines()
    assert lines[0].split() == ["store", "month", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert lines[2].split() == ["S1", "2022-01-01", "412.5000", "400.0000", "425.0000", "393.5000", "431.5000"]
    assert lines[-1] == "(model version 4: 2 periods of MS after each series' last date)"
    assert json.loads(as_json) == FORECAST_ANSWER
    assert list(csv.reader(io.StringIO(as_csv)))[1:] == [
        ["S1", "2022-01-01", "412.5", "400.0", "425.0", "393.5", "431.5"],
        ["S1", "2022-02-01", "420.25", "405.0", "435.5", "397.0", "443.5"],
    ]


def test_forecast_series_take_every_series_column_and_known_future_rows_come_from_a_file(tmp_path):
    future = tmp_path / "future.csv"
    future.write_text("store,product,month,promo\nS1,A,2022-01-01,1\nS2,B,2022-01-01,0\n")
    client, adapter = logged_in_client([("POST", "/projects/3/forecast", 200, FORECAST_ANSWER)])
    argv = ["forecast", "3", "--series", "store=S1", "product=A", "--series", "store=S2", "product=B"]
    args = parse_args([*argv, "--future", str(future)])
    assert args.handler(client, args) == 0
    assert json.loads(adapter.sent[0].body) == {
        "series": [{"store": "S1", "product": "A"}, {"store": "S2", "product": "B"}],
        "future": [
            {"store": "S1", "product": "A", "month": "2022-01-01", "promo": 1},
            {"store": "S2", "product": "B", "month": "2022-01-01", "promo": 0},
        ],
    }


def test_known_future_timestamps_are_sent_as_iso_text(tmp_path):
    midnight = datetime.datetime(2022, 1, 1)
    path = tmp_path / "future.parquet"
    pq.write_table(pa.table({"store": ["S1"], "month": pa.array([midnight], pa.timestamp("ns")), "promo": [1]}), path)
    assert tabular.read_records(path) == [{"store": "S1", "month": "2022-01-01T00:00:00", "promo": 1}]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_forecast_output_is_the_gateways_parquet_as_the_file_asked_for(tmp_path, suffix, capsys):
    rows = pa.Table.from_pylist(FORECAST_ANSWER["forecasts"])
    buffer = io.BytesIO()
    pq.write_table(rows, buffer)
    client, adapter = logged_in_client(
        [("POST", "/projects/3/forecast", 200, buffer.getvalue(), {"Content-Type": "application/vnd.apache.parquet"})]
    )
    destination = tmp_path / f"forecast{suffix}"
    args = parse_args(["forecast", "3", "--output", str(destination)])
    assert args.handler(client, args) == 0
    assert adapter.sent[0].headers["Accept"] == "application/vnd.apache.parquet"
    assert json.loads(adapter.sent[0].body) == {}
    assert capsys.readouterr().out == f"wrote the forecast to {destination}\n"
    if suffix == ".parquet":
        assert pq.read_table(destination).to_pylist() == FORECAST_ANSWER["forecasts"]
    else:
        assert destination.read_text().splitlines()[:2] == [
            '"store","month","forecast","lower_80","upper_80","lower_95","upper_95"',
            '"S1","2022-01-01",412.5,400,425,393.5,431.5',
        ]


# --- what-if --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "vary"),
    [
        ("price=50:350:31", {"column": "price", "from": 50, "to": 350, "steps": 31}),
        ("price=9.9:19.9:3", {"column": "price", "from": 9.9, "to": 19.9, "steps": 3}),
        ("promotion=0,1", {"column": "promotion", "values": [0, 1]}),
        ("weekday=Saturday,Sunday", {"column": "weekday", "values": ["Saturday", "Sunday"]}),
        ("price=150", {"column": "price", "values": [150]}),
    ],
)
def test_a_varied_column_is_a_range_or_values(text, vary):
    assert parse_args(["what-if", "3", "product=BCAA", "--vary", text]).vary == [vary]


WHAT_IF_ANSWER = {
    "model_version": 2,
    "points": [
        {"price": 100.0, "prediction": 65.0, "revenue": 6500.0},
        {"price": 200.0, "prediction": 45.0, "revenue": 9000.0},
        {"price": 300.0, "prediction": 25.0, "revenue": 7500.0},
    ],
    "best": {"price": 200.0, "prediction": 45.0, "revenue": 9000.0},
}


def test_what_if_prints_the_curve_and_the_best_revenue(capsys):
    client, adapter = logged_in_client([("POST", "/projects/3/what-if", 200, WHAT_IF_ANSWER)] * 2)
    argv = ["what-if", "3", "product=Creatina", "--vary", "price=100:300:3", "promotion=0", "--revenue-of", "price"]
    args = parse_args(argv)
    assert args.handler(client, args) == 0
    assert json.loads(adapter.sent[0].body) == {
        "base": {"product": "Creatina", "promotion": 0},
        "vary": [{"column": "price", "from": 100, "to": 300, "steps": 3}],
        "revenue_of": "price",
    }
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["price", "prediction", "revenue"]
    assert [line.split()[0] for line in lines[2:5]] == ["100.0000", "200.0000", "300.0000"]
    assert lines[5:] == ["best revenue at price = 200.0000: prediction 45.0000, revenue 9,000.0", "(model version 2)"]
    args = parse_args([*argv, "--csv"])
    args.handler(client, args)
    assert capsys.readouterr().out.splitlines() == [
        "price,prediction,revenue",
        "100.0,65.0,6500.0",
        "200.0,45.0,9000.0",
        "300.0,25.0,7500.0",
    ]


def test_what_if_varies_two_columns_into_a_grid_without_a_best(capsys):
    grid = {
        "model_version": 2,
        "points": [{"price": 100, "promotion": p, "prediction": 60.0 + 30 * p} for p in (0, 1)],
    }
    client, adapter = logged_in_client([("POST", "/projects/3/what-if", 200, grid)])
    args = parse_args(["what-if", "3", "product=BCAA", "--vary", "price=100", "--vary", "promotion=0,1"])
    assert args.handler(client, args) == 0
    assert json.loads(adapter.sent[0].body)["vary"] == [
        {"column": "price", "values": [100]},
        {"column": "promotion", "values": [0, 1]},
    ]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["price", "promotion", "prediction"] and len(lines) == 5
    assert not any(line.startswith("best") for line in lines)


# --- why this prediction --------------------------------------------------------------------------------------------

EXPLANATION = {
    "baseline": 100.0,
    "contributions": [
        {"feature": "promotion", "value": 1, "effect": 15.0},
        {"feature": "price", "value": 150, "effect": -5.5},
    ],
    "summary": "Predicted sales 109.5: promotion = 1 raises it by 15.0; price = 150 lowers it by 5.5.",
}


def test_predict_explain_prints_the_baseline_each_effect_and_the_summary_under_the_prediction(capsys):
    answer = {"prediction": 109.5, "model_version": 2, "explanation": EXPLANATION}
    client, adapter = logged_in_client([("POST", "/projects/3/predict", 200, answer)] * 2)
    args = parse_args(["predict", "3", "promotion=1", "price=150", "--explain"])
    assert args.handler(client, args) == 0
    assert adapter.sent[0].path_url.endswith("?explain=true")
    assert capsys.readouterr().out.splitlines() == [
        "prediction: 109.5000 (model version 2)",
        "baseline (the average prediction over training rows): 100.0000",
        "feature    value   effect",
        "---------  -----  -------",
        "promotion      1  15.0000",
        "price        150  -5.5000",
        EXPLANATION["summary"],
    ]
    args = parse_args(["predict", "3", "promotion=1", "price=150", "--explain", "--csv"])
    args.handler(client, args)
    assert capsys.readouterr().out.splitlines() == [
        "promotion,price,prediction,baseline,effect of promotion,effect of price",
        "1,150,109.5,100.0,15.0,-5.5",
    ]


def test_predict_explain_of_json_rows_explains_each_row(tmp_path, capsys):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{"promotion": 1, "price": 150}, {"promotion": 0, "price": 150}]))
    second = {**EXPLANATION, "summary": "Predicted sales 94.5."}
    answer = {"predictions": [109.5, 94.5], "model_version": 2, "explanations": [EXPLANATION, second]}
    client, adapter = logged_in_client([("POST", "/projects/3/predict", 200, answer)])
    args = parse_args(["predict", "3", "--input", str(path), "--explain"])
    assert args.handler(client, args) == 0
    assert adapter.sent[0].path_url.endswith("?explain=true")
    text = capsys.readouterr().out
    assert "\nrow 1: baseline (the average prediction over training rows): 100.0000\n" in text
    assert text.rstrip().endswith(
        "row 2: baseline (the average prediction over training rows): 100.0000\n"
        "feature    value   effect\n---------  -----  -------\npromotion      1  15.0000\n"
        "price        150  -5.5000\nPredicted sales 94.5."
    )


# --- actuals --------------------------------------------------------------------------------------------------------

REPORT = {
    "id": 12,
    "model_version": 2,
    "rows": 400,
    "created_at": "2026-11-30T10:35:46.220510+00:00",
    "metrics": {"MAE": 30.5, "RMSE": 35.0, "WAPE": 0.3, "bias": -28.0, "coverage_80": None, "coverage_95": None},
    "validation": {"MAE": 2.5, "RMSE": 3.1, "WAPE": 0.03, "bias": 0.1, "coverage_80": None, "coverage_95": None},
    "drift": [
        {"feature": "price", "psi": 4.2, "level": "major"},
        {"feature": "promotion", "psi": 0.01, "level": "none"},
    ],
    "recommendation": {"retrain": True, "reason": "retrain: the error is 1120% above validation; `price` drifted."},
}


def test_actuals_from_a_file_are_sent_as_parquet_and_the_report_printed(tmp_path, capsys):
    path = tmp_path / "sold.csv"
    path.write_text("product;price;promotion;weekday;sales\nBCAA;90,5;0;Monday;75,5\n")
    client, adapter = logged_in_client([("POST", "/projects/3/actuals", 201, REPORT)])
    args = parse_args(["actuals", "3", str(path)])
    assert args.handler(client, args) == 0
    assert adapter.sent[0].headers["Content-Type"] == "application/vnd.apache.parquet"
    sent = pq.read_table(io.BytesIO(adapter.sent[0].body))
    assert sent.to_pylist() == [{"product": "BCAA", "price": 90.5, "promotion": 0, "weekday": "Monday", "sales": 75.5}]
    assert capsys.readouterr().out.splitlines() == [
        "actuals report 12: 400 rows scored by model version 2 at 2026-11-30 10:35:46 UTC",
        "",
        "metric   actuals  validation",
        "------  --------  ----------",
        "MAE      30.5000      2.5000",
        "RMSE     35.0000      3.1000",
        "WAPE      0.3000      0.0300",
        "bias    -28.0000      0.1000",
        "",
        "drift against the training data (population stability index)",
        "feature       psi  drift",
        "---------  ------  -----",
        "price      4.2000  major",
        "promotion  0.0100  none",
        "",
        "recommendation: retrain: the error is 1120% above validation; `price` drifted.",
    ]


def test_actuals_of_json_records_then_the_list_and_one_report(tmp_path, capsys):
    path = tmp_path / "sold.json"
    records = [{"store": "S1", "month": "2022-01-01", "sales": 410.0}]
    path.write_text(json.dumps(records))
    kept = {**REPORT, "recommendation": {"retrain": False, "reason": "keep the model"}}
    client, adapter = logged_in_client(
        [
            ("POST", "/projects/3/actuals", 201, kept),
            ("GET", "/projects/3/actuals", 200, [kept, {**REPORT, "id": 11}]),
            ("GET", "/projects/3/actuals/11", 200, {**REPORT, "id": 11}),
        ]
    )
    printed = []
    for argv in (["actuals", "3", str(path), "--csv"], ["actuals", "3", "--csv"], ["actuals", "3", "11", "--json"]):
        args = parse_args(argv)
        assert args.handler(client, args) == 0
        printed.append(capsys.readouterr().out)
    assert json.loads(adapter.sent[0].body) == {"records": records}
    assert adapter.sent[1].path_url.endswith("?page=1&page_size=100")
    sent, listed, one = printed
    assert sent.splitlines() == [
        "metric,actuals,validation",
        "MAE,30.5,2.5",
        "RMSE,35.0,3.1",
        "WAPE,0.3,0.03",
        "bias,-28.0,0.1",
    ]
    assert list(csv.reader(io.StringIO(listed))) == [
        ["id", "created (UTC)", "model version", "rows", "MAE", "validation MAE", "retrain"],
        ["12", "2026-11-30 10:35:46", "2", "400", "30.5", "2.5", "False"],
        ["11", "2026-11-30 10:35:46", "2", "400", "30.5", "2.5", "True"],
    ]
    assert json.loads(one) == {**REPORT, "id": 11}


# --- download -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_download_saves_the_latest_datasets_stored_file(tmp_path, suffix, capsys):
    stored = io.BytesIO()
    pq.write_table(pa.table({"product": ["BCAA"], "price": [90.5]}), stored)
    client, adapter = logged_in_client(
        [
            ("GET", "/projects/3", 200, {"id": 3, "latest_dataset": DATASET["id"]}),
            ("GET", f"/projects/3/datasets/{DATASET['id']}/download", 200, stored.getvalue()),
        ]
    )
    destination = tmp_path / f"vendas{suffix}"
    args = parse_args(["download", "3", "--output", str(destination)])
    assert args.handler(client, args) == 0
    assert capsys.readouterr().out == f"wrote dataset {DATASET['id']} to {destination}\n"
    if suffix == ".parquet":
        assert destination.read_bytes() == stored.getvalue()
    else:
        assert destination.read_text().splitlines() == ['"product","price"', '"BCAA",90.5']


# --- CSV as people have it ------------------------------------------------------------------------------------------

BRAZILIAN_CSV = (
    "produto;preço;promoção;dia;vendas;unidades\n"
    "Creatina;150,5;1;2024-01-31;1.234,56;1.200\n"
    "Multivitamínico;90;0;2024-02-01;12,5;7\n"
    "BCAA;;1;2024-02-02;-3;15\n"
)


def converted(path, dialect=tabular.DEFAULT_DIALECT) -> pa.Table:
    with tabular.open_as_parquet(path, dialect) as parquet:
        return pq.read_table(parquet)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_semicolon_csv_with_decimal_commas_keeps_numbers_numbers(tmp_path, encoding):
    path = tmp_path / "vendas.csv"
    path.write_bytes(BRAZILIAN_CSV.encode(encoding))
    assert tabular_files.detect_csv_dialect(path) == tabular.CsvDialect(
        ";", ",", "cp1252" if encoding == "cp1252" else "utf-8"
    )
    table = converted(path)
    assert table.column_names == ["produto", "preço", "promoção", "dia", "vendas", "unidades"]
    assert table.schema.field("preço").type == pa.float64()
    assert table.column("preço").to_pylist() == [150.5, 90.0, None]
    assert table.schema.field("vendas").type == pa.float64()
    assert table.column("vendas").to_pylist() == [1234.56, 12.5, -3.0]
    assert table.schema.field("unidades").type == pa.int64()
    assert table.column("unidades").to_pylist() == [1200, 7, 15]
    assert table.schema.field("promoção").type == pa.int64()
    assert table.schema.field("dia").type == pa.date32()
    assert table.column("produto").to_pylist() == ["Creatina", "Multivitamínico", "BCAA"]


def test_text_that_only_looks_like_numbers_in_places_stays_text(tmp_path):
    path = tmp_path / "vendas.csv"
    path.write_text("código;data;valor\n1.234;31/01/2024;12,5\nA-7;01/02/2024;3\n1.2.3;02.02.2024;4\n")
    table = converted(path)
    assert table.schema.field("código").type == pa.string()
    assert table.column("código").to_pylist() == ["1.234", "A-7", "1.2.3"]
    assert table.schema.field("data").type == pa.string()
    assert table.column("valor").to_pylist() == [12.5, 3.0, 4.0]


@pytest.mark.parametrize(
    ("text", "separator", "decimal"),
    [
        ("a,b\n1.5,2\n", ",", "."),
        ("a;b\n1.5;2\n", ";", "."),
        ("a\tb\n1,5\t2\n", "\t", ","),
        ("a|b|c\n1|2,25|x\n", "|", ","),
        ('name,notes\nx,"a;b;c"\ny,"d"\n', ",", "."),
        ("only\n1\n2\n", ",", "."),
    ],
)
def test_dialect_rule(tmp_path, text, separator, decimal):
    path = tmp_path / "rows.csv"
    path.write_text(text)
    dialect = tabular_files.detect_csv_dialect(path)
    assert (dialect.separator, dialect.decimal) == (separator, decimal)


def test_sep_and_decimal_given_override_the_detection(tmp_path):
    path = tmp_path / "vendas.csv"
    # Decimal commas only after the first 64 KiB: the detection sees none, so the column would stay text.
    path.write_text("produto;preço\n" + "BCAA;90\n" * 10_000 + "Creatina;150,5\n")
    assert tabular_files.detect_csv_dialect(path).decimal == "."
    assert converted(path).schema.field("preço").type == pa.string()
    table = converted(path, tabular.CsvDialect(decimal=","))
    assert table.schema.field("preço").type == pa.float64() and table.column("preço")[-1].as_py() == 150.5

    one_column = tmp_path / "one_column.csv"
    one_column.write_text("produto;preço\nBCAA;90\n")
    assert converted(one_column, tabular.CsvDialect(separator=",")).column_names == ["produto;preço"]
    args = parse_args(["upload", "1", str(path), "--sep", ";", "--decimal", ","])
    assert csv_dialect(args) == tabular.CsvDialect(";", ",")


def test_written_csv_in_a_dialect_reads_back_the_same(tmp_path):
    table = pa.table({"product": ["BCAA", "Creatina"], "price": [90.25, 150.5], "units": [3, 4]})
    path = tmp_path / "out.csv"
    tabular.write_csv(table, path, tabular.CsvDialect(";", ","))
    assert path.read_text().splitlines()[1] == '"BCAA";"90,25";3'
    assert converted(path).equals(table)


# --- Excel ----------------------------------------------------------------------------------------------------------


def test_xlsx_becomes_parquet_with_numbers_dates_and_text(tmp_path):
    import openpyxl  # a dependency of the CLI, imported by it only for .xlsx files

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["product", "price", "units", "day", "code", None])
    sheet.append(["Creatina", 150.5, 3, datetime.datetime(2024, 1, 31), "A1", None])
    sheet.append(["BCAA", 90, 4, datetime.datetime(2024, 2, 1), 7, None])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["Glutamina", None, 5, None, "C3", None])
    path = tmp_path / "vendas.xlsx"
    workbook.save(path)

    table = converted(path)
    assert table.column_names == ["product", "price", "units", "day", "code"]
    assert table.schema.field("price").type == pa.float64()
    assert table.column("price").to_pylist() == [150.5, 90.0, None]
    assert table.schema.field("units").type == pa.int64()
    assert pa.types.is_timestamp(table.schema.field("day").type)
    assert table.column("day").to_pylist()[0] == datetime.datetime(2024, 1, 31)
    assert table.column("code").to_pylist() == ["A1", "7", "C3"]


def test_xlsx_column_with_values_but_no_name_is_refused(tmp_path):
    import openpyxl  # a dependency of the CLI, imported by it only for .xlsx files

    workbook = openpyxl.Workbook()
    workbook.active.append(["price", None])
    workbook.active.append([1, 2])
    path = tmp_path / "vendas.xlsx"
    workbook.save(path)
    with pytest.raises(tabular.UnsupportedFile, match="column 2 of the first sheet has values but no name"):
        converted(path)


def test_xlsx_written_keeps_values_and_puts_timestamps_in_utc(tmp_path):
    noon_utc = datetime.datetime(2024, 1, 1, 12, 0, tzinfo=datetime.UTC)
    table = pa.table(
        {
            "at": pa.array([noon_utc], pa.timestamp("us", tz="America/Sao_Paulo")),
            "product": ["Multivitamínico"],
            "prediction": [12.5],
        }
    )
    path = tmp_path / "scored.xlsx"
    tabular.write_table(table, path)
    assert converted(path).to_pylist() == [
        {"at": datetime.datetime(2024, 1, 1, 12, 0), "product": "Multivitamínico", "prediction": 12.5}
    ]


def test_a_file_named_xlsx_that_is_not_one_is_refused(tmp_path):
    path = tmp_path / "vendas.xlsx"
    path.write_text("product,price\nBCAA,1\n")
    with pytest.raises(tabular.UnsupportedFile, match="not a readable .xlsx file"):
        converted(path)


# --- sample files ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".xlsx"])
def test_sample_files_hold_the_supplements_example(tmp_path, suffix, capsys):
    path = tmp_path / f"sales{suffix}"
    assert main(["sample", "supplements", str(path)]) == 0
    assert "wrote 2000 rows of supplements" in capsys.readouterr().out
    table = converted(path)
    assert table.num_rows == 2000
    assert table.column_names == ["product", "price", "promotion", "weekday", "sales"]
    assert table.schema.field("price").type == pa.float64() and table.schema.field("promotion").type == pa.int64()
    assert table.equals(pa.Table.from_pandas(generate_supplements_sales(rows=2000, seed=0), preserve_index=False))

    to_score = tmp_path / f"to_score{suffix}"
    assert main(["sample", "supplements-to-score", str(to_score), "--rows", "7"]) == 0
    scored = converted(to_score)
    assert scored.num_rows == 7 and scored.column_names == ["product", "price", "promotion", "weekday"]


def test_sample_csv_in_the_brazilian_dialect_reads_back(tmp_path):
    path = tmp_path / "vendas.csv"
    assert main(["sample", "supplements", str(path), "--sep", ";", "--decimal", ",", "--rows", "50"]) == 0
    assert ";" in path.read_text().splitlines()[1] and "," in path.read_text().splitlines()[1]
    assert tabular_files.detect_csv_dialect(path) == tabular.CsvDialect(";", ",", "utf-8")
    assert converted(path).equals(pa.Table.from_pandas(generate_supplements_sales(rows=50), preserve_index=False))


def test_store_sales_sample_has_the_months_of_each_store_as_dates(tmp_path):
    path = tmp_path / "stores.csv"
    assert main(["sample", "store-sales", str(path), "--rows", "24"]) == 0
    table = converted(path)
    assert table.column_names == ["store", "month", "sales"] and table.num_rows == 3 * 24
    assert table.schema.field("month").type == pa.date32()
    rows = table.to_pylist()
    assert {row["store"] for row in rows} == set(STORE_LEVELS)
    assert [row["month"] for row in rows[:2]] == [datetime.date(2021, 1, 1), datetime.date(2021, 2, 1)]
    for row in rows:
        assert abs(row["sales"] - expected_store_sales(row["store"], row["month"])) < 6 * NOISE_SD


def test_sample_refuses_a_suffix_it_cannot_write(tmp_path, capsys):
    assert main(["sample", "supplements", str(tmp_path / "sales.txt")]) == 1
    assert "expected a .parquet, .csv or .xlsx file" in capsys.readouterr().err


# --- as a real process: closed pipes, no terminal -------------------------------------------------------------------


def salesml_process(*args: str, **kwargs) -> subprocess.Popen:
    """`salesml` as a real process running this checkout's code (`-m` from the repository's folder)."""
    return subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=REPO_ROOT, **kwargs)


def many_projects_gateway(environ, start_response):
    """A stand-in gateway that answers every project list with 3,000 projects: more than a pipe's buffer holds."""
    body = json.dumps([{**PROJECTS[0], "id": index, "name": f"project {index}"} for index in range(3000)]).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def test_output_into_a_closed_pipe_ends_quietly_like_other_tools():
    with served(many_projects_gateway) as url:
        CredentialStore().save(url, Credentials("ana", "a", "r"))
        salesml = salesml_process("--url", url, "projects", "list", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        head = subprocess.Popen(["head", "-1"], stdin=salesml.stdout, stdout=subprocess.PIPE)
        salesml.stdout.close()  # head holds the only reading end now
        first_line, _ = head.communicate(timeout=60)
        stderr = salesml.stderr.read().decode()
        salesml.wait(timeout=60)
    assert first_line.decode().split()[:3] == ["id", "name", "target"]
    assert stderr == ""
    assert salesml.returncode == 141


@pytest.mark.parametrize("command", ["register", "login"])
def test_a_password_needed_without_a_terminal_is_a_plain_error(command):
    salesml = salesml_process(
        "--url",
        "http://127.0.0.1:9",
        command,
        "ana",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal either, as under cron or CI
    )
    out, err = salesml.communicate(timeout=60)
    assert salesml.returncode == 1
    assert (
        err.decode().strip() == "error: no terminal to ask for the password: give --password or set $SALESML_PASSWORD"
    )
    assert out == b""


READ_AND_EXIT = """
import sys
from pathlib import Path
from cli.tabular import read_records
print(len(read_records(Path(sys.argv[1]))))
"""


def test_a_short_cli_process_that_reads_parquet_exits_cleanly(tmp_path):
    """pyarrow's reader pool, started for a table read from an open file, aborted the process when it exited right
    after ('terminate called without an active exception', 134): in 4 to 9 runs of 12 here, before the fix."""
    source = tmp_path / "rows.parquet"
    sales_frame(200).to_parquet(source)
    for _ in range(12):
        finished = subprocess.run(
            [sys.executable, "-c", READ_AND_EXIT, str(source)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (finished.returncode, finished.stdout.strip()) == (0, "200"), finished.stderr[-500:]
