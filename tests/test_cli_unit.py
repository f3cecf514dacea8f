"""Unit tests of the `salesml` CLI: argument parsing, tables and progress bar, the credential file, token refresh.

No server: the HTTP exchanges of `SalesMLClient` go through an in-memory `requests` transport adapter.
"""

from __future__ import annotations

import io
import json
import stat

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from requests.adapters import BaseAdapter

from cli import tabular
from cli.client import ApiError, ClientError, SalesMLClient
from cli.credentials import Credentials, CredentialStore
from cli.main import (
    format_api_error,
    load_json_features,
    main,
    parse_args,
    parse_feature_pairs,
    parse_feature_value,
    records_table,
    training_params,
)
from cli.progress import ProgressLine, follow_run, render_progress
from cli.tables import format_table, leaderboard_table, runs_table

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
        ["predict", "1", "price=3", "--json", "rows.json"],
        ["predict", "1", "--json", "rows.json", "--input", "rows.parquet"],
        ["predict", "1", "--json", "rows.json", "--output", "out.parquet"],
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
    lines = leaderboard_table(board).splitlines()
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
    """Answers requests from a list of (method, path, status, body) and records what was sent."""

    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)
        self.sent = []

    def send(self, request, **kwargs):
        method, path, status, body = self.answers.pop(0)
        assert (request.method, request.path_url.split("?")[0]) == (method, "/api/v1" + path)
        self.sent.append(request)
        response = requests.Response()
        response.status_code = status
        response.reason = "scripted"
        response._content = json.dumps(body).encode() if body is not None else b""
        response.headers["Content-Type"] = "application/json"
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
    tabular.csv_to_parquet(source, converted)
    table = pq.read_table(converted)
    assert table.column_names == ["product", "price", "promotion", "sales"]
    assert table.schema.field("price").type == pa.float64()
    assert table.schema.field("sales").type == pa.int64()
    assert table.column("product").to_pylist() == ["Creatina", "BCAA"]


def test_csv_whose_type_changes_after_the_first_block_still_converts(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular, "CSV_BLOCK_BYTES", 64)
    source = tmp_path / "sales.csv"
    source.write_text("price\n" + "1\n" * 100 + "2.5\n")
    converted = tmp_path / "sales.parquet"
    tabular.csv_to_parquet(source, converted)
    column = pq.read_table(converted).column("price")
    assert column.type == pa.float64() and len(column) == 101 and column[-1].as_py() == 2.5


def test_other_suffixes_are_refused(tmp_path):
    path = tmp_path / "sales.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(tabular.UnsupportedFile, match="expected a .parquet or .csv"):
        with tabular.open_as_parquet(path):
            pass


def test_prediction_comes_last_when_rows_differ():
    table = records_table([{"price": 1, "prediction": 2.0}, {"price": 3, "sales": 4, "prediction": 5.0}])
    assert table.splitlines()[0].split() == ["price", "sales", "prediction"]
    assert table.splitlines()[2].split() == ["1", "-", "2.0000"]


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
    assert runs_table([run]).splitlines()[2].split() == [
        "4",
        "succeeded",
        "succeeded",
        "100%",
        "2026-11-30",
        "10:35:46",
        "lr",
        "2",
    ]
