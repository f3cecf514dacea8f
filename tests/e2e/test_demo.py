"""`make demo`'s script against the real platform: it trains on the supplements example and answers the question,
then forecasts the next months of three stores."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from demo.store_sales import STORE_LEVELS, expected_store_sales
from demo.supplements import expected_sales
from shared.config import REPO_ROOT

DEMO_TIMEOUT_S = 600


def test_make_demo_runs_the_script_against_the_given_url():
    dry_run = subprocess.run(
        ["make", "-n", "demo", "URL=http://gateway.test:8123"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert "scripts/demo.py --url http://gateway.test:8123" in dry_run.stdout


def test_demo_hint_names_the_salesml_beside_its_interpreter(tmp_path, monkeypatch):
    from scripts import demo

    scripts = tmp_path / "clone" / ".venv" / "bin"
    scripts.mkdir(parents=True)
    (scripts / "salesml").touch()
    monkeypatch.setattr(sys, "executable", str(scripts / "python"))
    monkeypatch.setattr(demo, "REPO_ROOT", tmp_path / "clone")
    assert demo.salesml_command() == ".venv/bin/salesml"
    monkeypatch.setattr(demo, "REPO_ROOT", tmp_path / "another-clone")
    assert demo.salesml_command() == str(scripts / "salesml")
    (scripts / "salesml").unlink()
    assert demo.salesml_command() == f"{scripts / 'python'} -m cli.main"


@pytest.mark.e2e
def test_demo_trains_answers_the_creatina_question_and_forecasts_the_stores(platform, tmp_path):
    # PYTHONPATH: this checkout's code, even when the virtualenv's editable install points at another checkout.
    this_checkout = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    finished = subprocess.run(
        [sys.executable, "scripts/demo.py", "--url", platform.gateway_url, "--quick"],
        cwd=REPO_ROOT,
        env=this_checkout,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
    )
    stdout, stderr = finished.stdout, finished.stderr
    assert finished.returncode == 0, f"{stdout}\n{stderr}"
    assert "Traceback" not in stderr
    assert stderr.count("100% succeeded") == 2, stderr
    assert re.search(r"^lr\s+Linear Regression", stdout, re.MULTILINE), stdout
    assert re.search(r"^snaive\s+Seasonal naive", stdout, re.MULTILINE), stdout

    answers = {
        int(promotion): (float(predicted), float(rule))
        for promotion, predicted, rule in re.findall(r"^\s*([01])\s+(-?[\d.]+)\s+(-?[\d.]+)$", stdout, re.M)
    }
    assert sorted(answers) == [0, 1], stdout
    for promotion, (predicted, rule) in answers.items():
        assert rule == pytest.approx(expected_sales("Creatina", 150, promotion, "Saturday"), abs=1e-3)
        assert abs(predicted - rule) < 15, stdout
    assert answers[1][0] > answers[0][0]

    # The next six months of each store: the season and the trend of the rule, within the 80% interval mostly.
    number = r"(-?[\d,]+\.\d+)"
    forecasts = re.findall(rf"^(\w+)\s+(\d{{4}}-\d\d-\d\d)\s+{number}\s+{number}\s+{number}\s+{number}$", stdout, re.M)
    assert sorted({store for store, *_ in forecasts}) == sorted(STORE_LEVELS), stdout
    assert [month for store, month, *_ in forecasts if store == "Centro"] == [f"2025-0{m}-01" for m in range(1, 7)]
    inside = 0
    for store, month, *values in forecasts:
        forecast, lower, upper, rule = (float(value.replace(",", "")) for value in values)
        assert rule == pytest.approx(expected_store_sales(store, month), abs=0.05)
        assert lower <= forecast <= upper and abs(forecast - rule) < 40, (store, month, values)
        inside += lower <= rule <= upper
    assert inside >= 12, stdout

    # "Try it yourself" works as printed, from the repository's folder.
    hint = stdout.split("Try it yourself (from the repository's folder):\n", 1)[1]
    commands = [line.strip() for line in hint.splitlines() if line.strip()]
    assert len(commands) == 3 and " login " in commands[0] and " predict " in commands[1], stdout
    assert " forecast " in commands[2], stdout
    tried = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + "\n".join(commands)],
        cwd=REPO_ROOT,
        env={**this_checkout, "SALESML_CONFIG_DIR": str(tmp_path / "salesml-config")},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tried.returncode == 0, f"{tried.stdout}\n{tried.stderr}"
    assert re.search(r"^prediction: -?[\d.]+ \(model version 1\)$", tried.stdout, re.MULTILINE), tried.stdout
    assert len(re.findall(r"^Centro\s+2025-0[123]-01\s", tried.stdout, re.MULTILINE)) == 3, tried.stdout
