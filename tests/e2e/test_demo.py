"""`make demo`'s script against the real platform: it trains on the supplements example and answers the question."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from demo.supplements import expected_sales
from shared.config import REPO_ROOT

DEMO_TIMEOUT_S = 600


def test_make_demo_runs_the_script_against_the_given_url():
    dry_run = subprocess.run(
        ["make", "-n", "demo", "URL=http://gateway.test:8123"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert "scripts/demo.py --url http://gateway.test:8123" in dry_run.stdout


@pytest.mark.e2e
def test_demo_trains_and_answers_the_creatina_question(platform):
    finished = subprocess.run(
        [sys.executable, "scripts/demo.py", "--url", platform.gateway_url, "--quick"],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
    )
    stdout, stderr = finished.stdout, finished.stderr
    assert finished.returncode == 0, f"{stdout}\n{stderr}"
    assert "Traceback" not in stderr
    assert "100% succeeded" in stderr
    assert re.search(r"^lr\s+Linear Regression", stdout, re.MULTILINE), stdout

    answers = {
        int(promotion): (float(predicted), float(rule))
        for promotion, predicted, rule in re.findall(r"^\s*([01])\s+(-?[\d.]+)\s+(-?[\d.]+)$", stdout, re.M)
    }
    assert sorted(answers) == [0, 1], stdout
    for promotion, (predicted, rule) in answers.items():
        assert rule == pytest.approx(expected_sales("Creatina", 150, promotion, "Saturday"), abs=1e-3)
        assert abs(predicted - rule) < 15, stdout
    assert answers[1][0] > answers[0][0]
