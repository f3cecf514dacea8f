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
    training_params,
)
from cli.progress import ProgressLine, follow_run, render_progress
from cli.tables import format_table, leaderboard_table, records_table, runs_table
from demo.supplements import generate_supplements_sales
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
    """Answers requests from a list of (method, path, status, body[, headers]) and records what was sent."""

    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)
        self.sent = []

    def send(self, request, **kwargs):
        method, path, status, body, *headers = self.answers.pop(0)
        assert (request.method, request.path_url.split("?")[0]) == (method, "/api/v1" + path)
        self.sent.append(request)
        response = requests.Response()
        response.status_code = status
        response.reason = "scripted"
        response._content = json.dumps(body).encode() if body is not None else b""
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
    assert "algorithm lr, target sales, trained by run 7" in text
    metrics = text.split("metric", 1)[1].splitlines()
    assert metrics[2].split() == ["MAE", "2.5000", "2.7500"] and metrics[3].split() == ["R2", "0.9800", "0.9700"]
    assert "BCAA, Creatina, Glutamina, Multi, Whey, and 1 more" in text
    assert "50.1 to 349.9" in text and "0 to 1" in text
    bars = text.split("feature importance\n", 1)[1].splitlines()
    assert [line.split()[0] for line in bars] == ["price", "product", "promotion"]
    assert [line.count("#") for line in bars] == [30, 15, 8]


def test_one_model_as_csv_has_a_row_per_feature_with_its_importance(capsys):
    client, _ = logged_in_client([("GET", "/projects/3/models/2", 200, MODEL)])
    args = parse_args(["models", "3", "2", "--csv"])
    args.handler(client, args)
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["feature", "dtype", "min", "max", "categories", "importance"]
    assert rows[1] == ["product", "object", "", "", "BCAA | Creatina | Glutamina | Multi | Whey | Zinco", "0.5"]
    assert rows[2] == ["price", "float64", "50.1", "349.9", "", "1.0"]


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
