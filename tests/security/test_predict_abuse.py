"""``/predict`` through the gateway with hostile bodies: pickles and other content types are 415 and never read,
values that are not finite numbers, too long, of the wrong type or nested are 422 naming the column, never 500."""

from __future__ import annotations

import json

import pytest

from tests.security.support import FEATURE_ROW, PARQUET, assert_error_shape, booby_trapped_pickle

pytestmark = pytest.mark.e2e


@pytest.fixture
def predict(session_api, trained_project):
    path = f"/api/v1/projects/{trained_project.project_id}/predict"

    def send(body: bytes, content_type: str | None = "application/json", **headers):
        if content_type is not None:
            headers["Content-Type"] = content_type
        return session_api.post(path, data=body, headers={**trained_project.owner.headers, **headers})

    return send


def test_the_well_formed_row_is_scored(predict):
    answer = predict(json.dumps(FEATURE_ROW).encode())
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json()["prediction"], float)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/octet-stream",
        "application/x-python-pickle",
        "application/python-pickle",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_a_pickle_body_is_415_and_never_unpickled(predict, tmp_path, content_type):
    marker = tmp_path / "unpickled"
    answer = predict(booby_trapped_pickle(marker), content_type)
    assert_error_shape(answer, 415)
    assert not marker.exists(), "the predictor unpickled the request body"


def test_a_pickle_labelled_as_json_or_parquet_is_refused_and_never_unpickled(predict, tmp_path):
    marker = tmp_path / "unpickled"
    assert_error_shape(predict(booby_trapped_pickle(marker), "application/json"), 400)
    assert_error_shape(predict(booby_trapped_pickle(marker), PARQUET), 422)
    assert not marker.exists()


HOSTILE_VALUES = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "1e999 (overflows to inf)": "1e999",
    "text for a number": '"cheap"',
    "list for a number": "[1, 2]",
    "object for a number": '{"value": 4.5}',
    "boolean for a number": "true",
    "null": "null",
    "huge string": json.dumps("x" * 100_000),
}


@pytest.mark.parametrize("literal", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
def test_a_hostile_value_is_422_naming_the_column(predict, literal):
    row = json.dumps({**FEATURE_ROW, "price": 0}).replace('"price": 0', f'"price": {literal}')
    answer = predict(row.encode())
    body = assert_error_shape(answer, 422)
    assert "price" in json.dumps(body.get("errors", {})), body
    records = predict(f'{{"records": [{json.dumps(FEATURE_ROW)}, {row}]}}'.encode())
    assert "price" in json.dumps(assert_error_shape(records, 422).get("errors", {}))


@pytest.mark.parametrize(
    "store",
    [json.dumps("x" * 100_000), '["north"]', '{"name": "north"}', '[[["north"]]]', "NaN"],
    ids=["huge string", "list", "object", "nested lists", "NaN"],
)
def test_a_hostile_category_is_422_naming_the_column(predict, store):
    row = json.dumps(FEATURE_ROW).replace('"store": "north"', f'"store": {store}')
    body = assert_error_shape(predict(row.encode()), 422)
    assert "store" in json.dumps(body.get("errors", {})), body


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"a string"',
        b"12",
        b'{"records": {"price": 1}}',
        b'{"records": [1, 2]}',
        b'{"records": [[1, 2]]}',
        b"{}",
        b'{"records": [{}]}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
        b"\xff\xfe not utf-8",
        b'{"price": 1',
    ],
    ids=[
        "list",
        "string",
        "number",
        "records not a list",
        "records of numbers",
        "records of lists",
        "no features",
        "record without features",
        "deep lists",
        "deep objects",
        "not utf-8",
        "cut short",
    ],
)
def test_malformed_bodies_are_4xx_json_never_500(predict, body):
    answer = predict(body)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert_error_shape(answer, answer.status_code)
