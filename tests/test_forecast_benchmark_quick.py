"""``python -m bench.forecast_accuracy --quick`` still runs end to end and prints a table with real figures.

Only the harness is checked (so it cannot rot), never an accuracy or a timing: those are the benchmark's to report.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from shared.config import REPO_ROOT


@pytest.mark.slow
def test_quick_forecast_benchmark_prints_every_dataset_with_figures():
    finished = subprocess.run(
        [sys.executable, "-m", "bench.forecast_accuracy", "--quick"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    rows = [line for line in finished.stdout.splitlines() if line.startswith("| generated")]
    assert len(rows) == 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        assert re.search(r"\*\*[\d,.]+%?\*\* \(\w+\)", cells[4]), cells  # the platform's figure and its chosen model
        assert re.fullmatch(r"[\d.]+% / [\d.]+%", cells[7]), cells  # interval coverage
    assert "Pooled over all datasets" in finished.stdout
