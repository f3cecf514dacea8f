"""The console's views of the routes being added now (docs/API.md, Forecasting and Decisions): the forecast page,
what-if, the explanation of a prediction, actuals, and actual against predicted on the holdout. Each test skips,
naming the route, while that route is absent from the gateway's OpenAPI document, and starts running the day it
lands. Until then the fallback runs: a view whose route is missing says the feature is not available on this server.
"""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pandas as pd
import pyarrow.csv as pa_csv
import pytest
import requests

from demo.supplements import expected_sales, generate_supplements_sales
from shared.media_types import PARQUET
from tests.platform_harness import DEFAULT_PASSWORD, unique_username

pytestmark = pytest.mark.e2e

FORECAST = ("post", "/api/v1/projects/{}/forecast")
BACKTEST = ("get", "/api/v1/projects/{}/models/{}/backtest")
WHAT_IF = ("post", "/api/v1/projects/{}/what-if")
ACTUALS = ("post", "/api/v1/projects/{}/actuals")
PREDICT = ("post", "/api/v1/projects/{}/predict")
HOLDOUT = ("get", "/api/v1/projects/{}/models/{}/holdout")


@pytest.fixture(scope="module")
def openapi_document(platform) -> dict:
    return requests.get(f"{platform.gateway_url}/api/v1/openapi.json", timeout=60).json()


def documented(document: dict, method: str, path: str) -> dict | None:
    """The operation at ``path`` (ids as ``{}``, no trailing slash) in the OpenAPI document, or None."""
    for template, item in document["paths"].items():
        if re.sub(r"\{[^}/]+\}", "{}", template).rstrip("/") == path and method in item:
            return item[method]
    return None


def require(document: dict, method: str, path: str) -> dict:
    operation = documented(document, method, path)
    if operation is None:
        pytest.skip(f"{method.upper()} {path} is not in the gateway's OpenAPI document yet (tested once it is)")
    return operation


def require_explain(document: dict) -> None:
    predict = require(document, *PREDICT)
    if not any(parameter.get("name") == "explain" for parameter in predict.get("parameters", [])):
        pytest.skip("POST /predict has no `explain` parameter in the gateway's OpenAPI document yet")


def require_forecast_training(document: dict) -> None:
    train = require(document, "post", "/api/v1/projects/{}/train")
    schema = train["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "task" not in schema.get("properties", {}):
        pytest.skip("POST /train has no `task` field in the gateway's OpenAPI document yet")


class Analyst:
    """An account made through the API, with helpers to set up its projects and sign the browser in."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.username = unique_username("decider")
        requests.post(f"{base_url}/api/v1/auth/register", json=self.credentials, timeout=60).raise_for_status()
        tokens = requests.post(f"{base_url}/api/v1/auth/login", json=self.credentials, timeout=60).json()
        self.headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    @property
    def credentials(self) -> dict:
        return {"username": self.username, "password": DEFAULT_PASSWORD}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        answer = requests.request(method, f"{self.base_url}/api/v1{path}", headers=headers, timeout=120, **kwargs)
        assert answer.ok, answer.text
        return answer

    def project_with(self, frame: pd.DataFrame, name: str, target: str) -> int:
        project = self.call("POST", "/projects", json={"name": name, "target": target}).json()["id"]
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        self.call("POST", f"/projects/{project}/datasets", data=buffer.getvalue(), headers={"Content-Type": PARQUET})
        return project

    def trained(self, project: int, body: dict, timeout_s: float = 300) -> dict:
        run = self.call("POST", f"/projects/{project}/train", json=body).json()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.call("GET", f"/projects/{project}/training-runs/{run['id']}").json()
            if run["status"] not in ("queued", "running"):
                assert run["status"] == "succeeded", run
                return run
            time.sleep(1)
        raise AssertionError(f"run {run['id']} did not finish in {timeout_s} s")

    def sign_in(self, watched) -> None:
        page = watched.page
        watched.open("#/sign-in")
        page.fill("input[name=username]", self.username)
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#project-list")


@pytest.fixture(scope="module")
def supplements_model(platform) -> tuple[Analyst, int]:
    """A project whose linear model of the supplements example serves (trained through the API)."""
    analyst = Analyst(platform.gateway_url)
    project = analyst.project_with(generate_supplements_sales(rows=600, seed=5), "Supplements", "sales")
    analyst.trained(project, {"include": ["lr"], "folds": 2})
    return analyst, project


def daily_sales(days: int = 120) -> pd.DataFrame:
    """Two stores' daily sales: a weekly cycle, a trend and noise."""
    rng = np.random.default_rng(11)
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    frames = []
    for store, level in (("north", 100.0), ("south", 60.0)):
        weekly = 10 * np.sin(2 * np.pi * np.arange(days) / 7)
        sales = level + weekly + 0.1 * np.arange(days) + rng.normal(0, 2, days)
        frames.append(pd.DataFrame({"date": dates, "store": store, "sales": sales.round(1)}))
    return pd.concat(frames, ignore_index=True)


# --- runs today: the fallback for a route the server lacks ----------------------------------------------------------


def test_a_view_whose_route_is_missing_says_the_feature_is_not_available(watched, openapi_document, platform):
    missing = [
        (fragment, feature)
        for fragment, feature, route in (
            ("forecast", "Forecasting", FORECAST),
            ("what-if", "What-if analysis", WHAT_IF),
            ("actuals", "Actuals", ACTUALS),
        )
        if documented(openapi_document, *route) is None
    ]
    if not missing:
        pytest.skip("every decision route is in the gateway's OpenAPI document: nothing is missing")
    analyst = Analyst(platform.gateway_url)
    project = analyst.call("POST", "/projects", json={"name": "Plain"}).json()["id"]
    analyst.sign_in(watched)
    page = watched.page
    for fragment, feature in missing:
        watched.open(f"#/projects/{project}/{fragment}")
        page.wait_for_selector(".notice.warning")
        assert f"{feature} is not available on this server" in page.text_content("#project-content")
        assert page.locator(f"[data-tab={fragment}]").count() == 1  # shown only as the page asked for, not in tabs
    watched.open(f"#/projects/{project}")
    page.wait_for_selector("#upload-form")
    assert [fragment for fragment, _ in missing if page.locator(f"[data-tab={fragment}]").count()] == []
    watched.assert_nothing_went_wrong()


# --- run once the routes land ---------------------------------------------------------------------------------------


def test_forecast_page_draws_history_and_bands_per_series_and_downloads_csv(watched, openapi_document, platform):
    require(openapi_document, *FORECAST)
    require(openapi_document, *BACKTEST)
    require_forecast_training(openapi_document)
    analyst = Analyst(platform.gateway_url)
    project = analyst.project_with(daily_sales(), "Stores", "sales")
    horizon = 14
    analyst.trained(
        project,
        {
            "task": "forecast",
            "date_column": "date",
            "series_columns": ["store"],
            "horizon": horizon,
            "include": ["naive", "snaive"],
            "backtest_windows": 2,
        },
    )
    analyst.sign_in(watched)
    page = watched.page
    watched.open(f"#/projects/{project}/forecast")
    page.wait_for_selector("[data-chart=forecast][data-drawn=true]")
    assert page.locator("select[name=series] option").all_text_contents() == ["north", "south"]
    names = page.evaluate("document.querySelector('[data-chart=forecast]').data.map((trace) => trace.name)")
    assert {"95% interval", "80% interval", "history", "forecast"} <= set(names)
    history = page.evaluate("document.querySelector('[data-chart=forecast]').data.find((t) => t.name === 'history').x")
    assert len(history) > 0
    page.wait_for_selector("[data-chart=backtest][data-drawn=true]")
    watched.screenshot("forecast")
    with page.expect_download() as download_info:
        page.click("#download-forecast")
    table = pa_csv.read_csv(download_info.value.path()).to_pandas()
    assert {"store", "date", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"} <= set(table.columns)
    assert len(table) == 2 * horizon
    assert (table["lower_95"] <= table["lower_80"]).all() and (table["upper_80"] <= table["upper_95"]).all()

    # Why: each period of the picked series as level + season + trend, stacked up to its forecast.
    forecast = require(openapi_document, *FORECAST)
    assert any(parameter.get("name") == "explain" for parameter in forecast.get("parameters", []))
    for store in ("north", "south"):
        page.select_option("select[name=series]", store)
        page.click("#explain-forecast")
        page.wait_for_selector("[data-chart=forecast-explanation][data-drawn=true]")
        traces = page.evaluate(
            "document.querySelector('[data-chart=forecast-explanation]').data"
            ".map((t) => ({name: t.name, y: t.y, base: t.base || null}))"
        )
        assert traces[0]["name"] == "level" and traces[-1]["name"] == "forecast"
        assert "season" in [trace["name"] for trace in traces]
        parts = np.array([trace["y"] for trace in traces[:-1]])
        assert parts.sum(axis=0) == pytest.approx(traces[-1]["y"], rel=1e-9)
        # A waterfall: each part's bar starts where the level and the parts before it end.
        for index, trace in enumerate(traces[1:-1], start=1):
            assert trace["base"] == pytest.approx(parts[:index].sum(axis=0).tolist(), rel=1e-9), trace["name"]
        assert traces[-1]["y"] == pytest.approx(table.loc[table["store"] == store, "forecast"].tolist(), rel=1e-9)
        assert page.text_content("#forecast-why-summary").strip()
        if store == "north":
            watched.screenshot("forecast-why")
    watched.assert_nothing_went_wrong()


def test_what_if_page_finds_the_revenue_maximising_price(watched, openapi_document, request):
    require(openapi_document, *WHAT_IF)
    analyst, project = request.getfixturevalue("supplements_model")
    analyst.sign_in(watched)
    page = watched.page
    watched.open(f"#/projects/{project}/what-if")
    page.wait_for_selector("#what-if-form")
    page.select_option("select[name=vary]", "price")
    page.fill("input[name=from]", "50")
    page.fill("input[name=to]", "350")
    page.fill("input[name=steps]", "31")
    page.select_option("select[name=revenue_of]", "price")
    page.locator("#feature-form label", has_text="product").locator("select").select_option("Glutamina")
    page.locator("#feature-form label", has_text="promotion").locator("input").fill("0")
    page.locator("#feature-form label", has_text="weekday").locator("select").select_option("Monday")
    page.click("#what-if-form button[type=submit]")
    page.wait_for_selector("[data-chart=what-if][data-drawn=true]")
    best = float(re.search(r"Best price: ([\d.,]+)", page.text_content("#what-if-best")).group(1).replace(",", ""))
    grid = np.linspace(50, 350, 31)
    rule_best = grid[np.argmax([price * expected_sales("Glutamina", price, 0, "Monday") for price in grid])]
    assert abs(best - rule_best) <= 2 * (grid[1] - grid[0])
    watched.screenshot("what-if")
    watched.assert_nothing_went_wrong()


def test_explanation_shows_the_baseline_and_each_feature_effect(watched, openapi_document, request):
    require_explain(openapi_document)
    analyst, project = request.getfixturevalue("supplements_model")
    analyst.sign_in(watched)
    page = watched.page
    watched.open(f"#/projects/{project}/predict")
    page.wait_for_selector("#predict-form")
    page.check("#explain")
    page.click("#predict-form button[type=submit]")
    page.wait_for_selector("#explanation")
    assert page.text_content("#explanation-summary").strip()
    assert page.locator("#explanation tbody tr").count() == 4  # product, price, promotion, weekday
    page.wait_for_selector("[data-chart=explanation][data-drawn=true]")
    watched.screenshot("explanation")
    watched.assert_nothing_went_wrong()


def test_actuals_page_reports_accuracy_and_drift_and_draws_actual_vs_predicted(
    watched, openapi_document, request, tmp_path
):
    require(openapi_document, *ACTUALS)
    analyst, project = request.getfixturevalue("supplements_model")
    actuals = generate_supplements_sales(rows=80, seed=21)
    actuals["price"] = actuals["price"] * 1.5  # prices moved: the report should see drift
    path = tmp_path / "actuals.parquet"
    actuals.to_parquet(path, index=False)
    analyst.sign_in(watched)
    page = watched.page
    watched.open(f"#/projects/{project}/actuals")
    page.wait_for_selector("#actuals-form")
    page.set_input_files("#actuals-file", str(path))
    page.click("#actuals-form button[type=submit]")
    page.wait_for_selector("#actuals-metrics")
    assert {"MAE", "RMSE", "WAPE", "bias"} <= set(page.locator("#actuals-metrics dt").all_text_contents())
    assert "price" in page.text_content("#actuals-report")
    page.wait_for_selector("[data-chart=actuals-vs-predicted][data-drawn=true]")
    watched.screenshot("actuals")
    watched.assert_nothing_went_wrong()


def test_results_draw_actual_against_predicted_on_the_holdout(watched, openapi_document, request):
    require(openapi_document, *HOLDOUT)
    analyst, project = request.getfixturevalue("supplements_model")
    analyst.sign_in(watched)
    page = watched.page
    watched.open(f"#/projects/{project}/results")
    page.wait_for_selector("[data-chart=holdout][data-drawn=true]")
    points = page.evaluate("document.querySelector('[data-chart=holdout]').data[0].x.length")
    assert 0 < points <= 500
    watched.screenshot("holdout")
    watched.assert_nothing_went_wrong()
