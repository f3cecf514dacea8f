"""The web console in a real browser (headless Chromium through Playwright) against the real platform: sign up,
upload a CSV, train two fast models, read the leaderboard, activate versions, predict from the form and from a file;
user strings never become HTML, the page keeps its Content-Security-Policy, and nothing leaves 127.0.0.1.

Screenshots are kept under ``SALESML_SCREENSHOTS_DIR`` (or the session's temporary folder). Without Chromium or
Playwright the browser tests skip, saying which is missing.
"""

from __future__ import annotations

import io
import re
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from demo.supplements import generate_supplements_sales
from shared.media_types import CSV
from tests.helpers.browser import WatchedPage
from tests.platform_harness import DEFAULT_PASSWORD, unique_username

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"
TRAINING_TIMEOUT_MS = 240_000


def sales_csv(rows: int = 300) -> bytes:
    """The supplements example as a Brazilian spreadsheet exports it (`;` and decimal commas), with a column whose
    name is markup."""
    frame = generate_supplements_sales(rows=rows, seed=3)
    frame.insert(4, XSS, (frame.index % 7).astype(float))
    return frame.to_csv(sep=";", decimal=",", index=False).encode()


def sign_up(watched: WatchedPage, username: str) -> None:
    page = watched.page
    watched.open("#/register")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:text('Projects')")


# --- the console's own answers (no browser needed) ------------------------------------------------------------------


def test_the_console_page_sets_its_own_policy_and_names_no_other_host(api):
    page = api.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)
    assert "<script>" not in page.text and not re.search(r"\son[a-z]+=", page.text) and "style=" not in page.text
    for asset in (
        "/console/js/app.js",
        "/console/console.css",
        "/console/vendor/plotly.min.js",
        "/console/vendor/plotly.css",
    ):
        answer = api.get(asset)
        assert answer.status_code == 200, asset
        assert answer.headers["Content-Security-Policy"] == policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert api.get("/console/js/app.js").headers["Content-Type"].startswith("text/javascript")
    for missing in ("/console/js/nope.js", "/console/index.html", "/console/../views.py", "/console/%2e%2e/views.py"):
        assert api.get(missing).status_code == 404, missing


# --- in the browser -------------------------------------------------------------------------------------------------


def test_sign_up_upload_train_read_the_leaderboard_and_predict(watched, api, tmp_path):
    page = watched.page
    sign_up(watched, unique_username("analyst"))

    page.fill("input[name=name]", "Supplements")
    page.fill("input[name=target]", "sales")
    page.click("text=Create project")
    page.wait_for_selector("#upload-form")
    assert page.text_content("#project-name") == "Supplements"

    csv_file = tmp_path / "vendas.csv"
    csv_file.write_bytes(sales_csv())
    page.set_input_files("#upload-form input[type=file]", str(csv_file))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#profile")
    profile = page.text_content("#profile")
    assert "vendas.parquet" in profile and "300 rows" in profile
    profile_rows = {
        row.locator("td").nth(0).text_content(): row.locator("td").nth(1).text_content()
        for row in page.locator("#profile tbody tr").all()
    }
    assert profile_rows == {
        "product": "string",
        "price": "float64",
        "promotion": "int64",
        "weekday": "string",
        XSS: "float64",
        "sales": "float64",
    }
    assert page.locator("#preview tbody tr").count() == 20
    watched.screenshot("1-data")

    page.click("[data-tab=train]")
    page.wait_for_selector("#train-form")
    assert page.locator("select[name=target] option").all_text_contents() == ["price", "promotion", XSS, "sales"]
    assert page.input_value("select[name=target]") == "sales"
    page.select_option("select[name=task]", "forecast")
    assert page.is_visible("#forecast-fields select[name=date_column]")
    assert page.is_visible("#forecast-fields input[name=horizon]")
    page.select_option("select[name=task]", "regression")
    assert not page.is_visible("#forecast-fields")
    for model in ("lr", "ridge"):
        page.check(f"[data-group=models] input[data-value={model}]")
    page.fill("input[name=folds]", "2")
    page.click("#train-form button[type=submit]")

    page.wait_for_selector("#run-progress")
    page.wait_for_selector("#run-status .badge.succeeded", timeout=TRAINING_TIMEOUT_MS)
    assert page.eval_on_selector("#run-progress", "bar => bar.value") == 1
    assert page.text_content("#run-percent") == "100%"
    assert not page.is_visible("#cancel-run")
    board = page.locator("#run-outcome table")
    assert {cell.split(" (")[0] for cell in board.locator("tbody td:nth-child(2)").all_text_contents()} == {
        "Linear Regression",
        "Ridge Regression",
    }
    page.wait_for_selector("[data-chart=leaderboard][data-drawn=true] .bars path")
    watched.screenshot("2-run")

    page.click("#run-outcome a:text('See the results')")
    page.wait_for_selector("[data-chart=feature-importance][data-drawn=true]")
    assert page.locator("#model-detail h3").first.text_content().startswith("Model v1")
    assert page.locator("#project-content .badge.serving").count() == 1
    bar_labels = page.locator("[data-chart=feature-importance] .ytick text").all_text_contents()
    assert XSS in bar_labels and "price" in bar_labels
    watched.screenshot("3-results")

    page.click("[data-tab=predict]")
    page.wait_for_selector("#predict-form")
    products = page.locator("#feature-form select").first.locator("option").all_text_contents()
    assert products == sorted(generate_supplements_sales(rows=300, seed=3)["product"].unique())
    price = page.locator("#feature-form label", has_text="price")
    assert re.search(r"trained on 5\d(\.\d+)? to 3[0-4]\d(\.\d+)?", price.text_content())
    page.locator("#feature-form select").first.select_option("Creatina")
    price.locator("input").fill("150")
    page.locator("#feature-form label", has_text="promotion").locator("input").fill("1")
    page.click("#predict-form button[type=submit]")
    page.wait_for_selector("#prediction-value")
    predicted = float(page.text_content("#prediction-value").replace(",", ""))
    assert 120 < predicted < 180  # the rule says 140 - 0.2 × 150 + 30 = 140, plus the weekday's effect
    assert not page.is_visible("#prediction-warnings")
    price.locator("input").fill("2000")
    page.click("#predict-form button[type=submit]")
    page.wait_for_selector("#prediction-warnings")
    assert "outside the training range" in page.text_content("#prediction-warnings")
    watched.screenshot("4-predict")

    to_score = generate_supplements_sales(rows=40, seed=9)
    to_score.insert(4, XSS, 1.0)
    scored_input = tmp_path / "to_score.parquet"
    to_score.to_parquet(scored_input, index=False)
    page.set_input_files("#score-file", str(scored_input))
    page.click("#score-form button[type=submit]")
    page.wait_for_selector("#scored table")
    assert "40 rows scored by model v1" in page.text_content("#scored")
    assert "prediction" in page.locator("#scored thead th").all_text_contents()
    page.wait_for_selector("[data-chart=actual-vs-predicted][data-drawn=true]")
    with page.expect_download() as download_info:
        page.click("#download-parquet")
    download = download_info.value
    assert download.suggested_filename == "to_score.scored.parquet"
    scored = pq.read_table(download.path()).to_pandas()
    assert len(scored) == 40 and "prediction" in scored.columns
    assert scored["prediction"].between(0, 250).all()
    watched.screenshot("5-score-file")
    watched.assert_nothing_went_wrong()
    assert page.evaluate("document.querySelectorAll('img').length") == 0


def test_versions_activate_and_roll_back_and_a_run_can_be_cancelled(watched, api):
    username = unique_username("versions")
    api.register(username)
    headers = {"Authorization": f"Bearer {api.login(username)['access_token']}"}
    project = api.post("/api/v1/projects", json={"name": "Versions", "target": "sales"}, headers=headers).json()
    body = sales_csv(rows=120)
    assert api.post(
        f"/api/v1/projects/{project['id']}/datasets", data=body, headers={**headers, "Content-Type": CSV}
    ).ok
    for attempt in range(2):
        run = api.post(
            f"/api/v1/projects/{project['id']}/train",
            json={"include": ["lr"], "folds": 2},
            headers={**headers, "Idempotency-Key": f"versions-{attempt}"},
        ).json()
        wait_for_run(api, headers, project["id"], run["id"])

    # Which of the two serves depends on the server (a newer one may keep the better model): switch to the other.
    models = api.get(f"/api/v1/projects/{project['id']}/models", headers=headers).json()
    serving = next(model["version"] for model in models if model["active"])
    other = next(model["version"] for model in models if not model["active"])

    page = watched.page
    watched.open("#/sign-in")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#project-list")
    page.click("#project-list td:text('Versions')")
    page.click("[data-tab=results]")
    page.wait_for_selector(f"[data-activate='{other}']")
    assert page.text_content(f"[data-activate='{other}']") == ("Roll back to this" if other < serving else "Activate")
    page.click(f"[data-activate='{other}']")
    page.wait_for_selector(f"[data-activate='{serving}']")
    assert page.text_content(f"[data-activate='{serving}']") == ("Roll back to this" if serving < other else "Activate")
    assert page.locator(f"[data-activate='{other}']").count() == 0
    assert api.get(f"/api/v1/projects/{project['id']}", headers=headers).json()["active_model"] == other
    watched.screenshot("6-versions")

    page.click("[data-tab=train]")
    page.wait_for_selector("#train-form")
    page.fill("input[name=time_budget_s]", "600")
    page.click("#train-form button[type=submit]")
    page.wait_for_selector("#cancel-run:visible")
    page.click("#cancel-run")
    page.wait_for_selector("#run-status .badge.cancelled", timeout=60_000)
    assert not page.is_visible("#cancel-run")
    watched.assert_nothing_went_wrong()


def test_user_strings_are_shown_as_text_and_never_run(watched, api):
    username = unique_username("xss")
    api.register(username)
    headers = {"Authorization": f"Bearer {api.login(username)['access_token']}"}
    project = api.post(
        "/api/v1/projects", json={"name": XSS, "description": "<script>alert(2)</script>"}, headers=headers
    )
    frame = pd.DataFrame({XSS: ["<b onmouseover=alert(3)>x</b>", "<svg onload=alert(4)>"] * 20, "sales": range(40)})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    uploaded = api.post(
        f"/api/v1/projects/{project.json()['id']}/datasets",
        data=buffer.getvalue(),
        headers={**headers, "Content-Type": "application/vnd.apache.parquet"},
    )
    assert uploaded.status_code == 201, uploaded.text

    page = watched.page
    watched.open("#/sign-in")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#project-list")
    assert XSS in page.text_content("#project-list")
    page.locator("#project-list tbody tr").first.click()
    page.wait_for_selector("#preview")
    assert page.text_content("#project-name") == XSS
    assert "<svg onload=alert(4)>" in page.text_content("#preview")
    page.click("[data-tab=train]")
    page.wait_for_selector("#train-form")
    assert XSS in page.locator("[data-group=ignore]").text_content()
    watched.screenshot("7-user-strings")
    assert page.evaluate("document.querySelectorAll('img, svg[onload], b[onmouseover], script:not([src])').length") == 0
    watched.assert_nothing_went_wrong()


def test_tokens_live_in_the_tab_renew_themselves_and_go_at_sign_out(watched, api):
    username = unique_username("session")
    api.register(username)
    page = watched.page
    watched.open("#/projects")
    page.wait_for_selector("form.narrow")  # not signed in: the sign-in page
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#project-list")
    assert watched.context.cookies() == []
    stored = page.evaluate("Object.keys(sessionStorage).sort()")
    assert stored == ["salesml.access", "salesml.refresh", "salesml.username"]

    # An access token the gateway refuses is renewed with the refresh token, and the page loads.
    page.evaluate("sessionStorage.setItem('salesml.access', 'not-a-token')")
    watched.open("#/projects")
    page.reload()
    page.wait_for_selector("#project-list")
    renewed = page.evaluate("sessionStorage.getItem('salesml.access')")
    assert renewed != "not-a-token"
    assert api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {renewed}"}).json()["username"] == username

    refresh = page.evaluate("sessionStorage.getItem('salesml.refresh')")
    page.click("#sign-out")
    page.wait_for_selector("form.narrow")
    assert page.evaluate("Object.keys(sessionStorage)") == []
    assert api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {renewed}"}).status_code == 401
    assert api.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {refresh}"}).status_code == 401
    watched.assert_nothing_went_wrong()


def wait_for_run(api, headers, project_id: int, run_id: int, timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/projects/{project_id}/training-runs/{run_id}", headers=headers).json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            assert run["status"] == "succeeded", run
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish in {timeout_s} s")
