"""The README's examples run as written: the curl tour, then the `salesml` section, with bash against the platform
a newcomer has (`make run`: SQLite, a local folder, dev mode).

Each section's ```bash blocks run in a fresh folder that has the README's `.venv` (a link to this interpreter's
virtualenv), with `set -euo pipefail` so that any failing command fails the test.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.tabular import open_as_parquet
from harness.make_run import MakeRun, make_run
from shared.config import REPO_ROOT
from shared.tabular_files import detect_csv_dialect

pytestmark = pytest.mark.e2e

README = REPO_ROOT / "README.md"
TOUR = "A tour of the API with curl"
CLI = "The `salesml` command line"
RUN_TIMEOUT_S = 600


def bash_blocks(section: str) -> str:
    """The ```bash blocks of the README's `## {section}`, joined."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    blocks = re.findall(r"^```bash\n(.*?)^```", text[start : end if end >= 0 else None], re.MULTILINE | re.DOTALL)
    assert blocks, f"no bash block in README section {section!r}"
    return "\n".join(blocks)


def run_section(section: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    folder.mkdir()
    (folder / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    script = folder / "section.sh"
    script.write_text("set -euo pipefail\n" + bash_blocks(section), encoding="utf-8")
    finished = subprocess.run(
        ["bash", str(script)],
        cwd=folder,
        # PYTHONPATH: `.venv/bin/salesml` runs this checkout's code even when the virtualenv was installed from
        # another one (an editable install points at the checkout that made it).
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert finished.returncode == 0, f"README section {section!r} failed:\n{finished.stdout}\n{finished.stderr}"
    assert "Traceback" not in finished.stderr, finished.stderr
    return finished


@pytest.fixture(scope="module")
def newcomer_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeRun]:
    with make_run(tmp_path_factory.mktemp("make-run")) as running:
        yield running


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_the_curl_tour_runs_top_to_bottom(newcomer_platform, tmp_path):
    folder = tmp_path / "tour"
    finished = run_section(TOUR, folder, {"API": f"{newcomer_platform.url}/api/v1"})

    answers = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    one_row = [answer for answer in answers if "prediction" in answer]
    many = [answer for answer in answers if "predictions" in answer]
    assert len(one_row) == 1 and is_number(one_row[0]["prediction"]), finished.stdout
    assert len(many) == 1 and all(is_number(value) for value in many[0]["predictions"]), finished.stdout

    scored = pq.read_table(folder / "scored.parquet")
    to_score = pq.read_table(folder / "to_score.parquet")
    assert scored.num_rows == to_score.num_rows > 0
    assert scored.column_names == [*to_score.column_names, "prediction"]
    assert pa.types.is_floating(scored.schema.field("prediction").type)
    assert all(is_number(value) for value in scored.column("prediction").to_pylist())


def test_the_command_line_section_runs_after_the_tour(newcomer_platform, tmp_path):
    folder = tmp_path / "cli"
    env = {
        "SALESML_URL": newcomer_platform.url,
        "SALESML_CONFIG_DIR": str(tmp_path / "salesml-config"),
        "SALESML_PASSWORD": "s3cret-pass",
    }
    finished = run_section(CLI, folder, env)

    assert re.search(r"^prediction: -?\d+\.\d+ \(model version 1\)$", finished.stdout, re.MULTILINE), finished.stdout
    assert detect_csv_dialect(folder / "vendas.csv").decimal == ","
    assert re.search(r"uploaded dataset \S+ to project \d+: 2000 rows", finished.stdout), finished.stdout
    scored = folder / "scored.csv"
    with open_as_parquet(scored) as parquet:
        predictions = pq.read_table(parquet).column("prediction")
    assert len(predictions) == 10 and all(is_number(value) for value in predictions.to_pylist())

    # Decisions: the best price, why a prediction, the actuals report; exports.
    out = finished.stdout
    assert re.search(r"^best revenue at price = \d+\.\d+: prediction -?\d+\.\d+, revenue ", out, re.M), out
    assert re.search(r"^Predicted sales ", out, re.M) and re.search(r"^recommendation: \S", out, re.M), out
    metrics = (folder / "metrics.csv").read_text().splitlines()
    assert metrics[0] == "metric,cv,holdout" and metrics[1].startswith("MAE,"), metrics
    assert pq.read_table(folder / "vendas.parquet").num_rows == 2000

    # Forecasting: six months of Centro on screen, every store's in the file.
    assert len(re.findall(r"^Centro\s+20\d\d-\d\d-01(\s+-?\d+\.\d+){5}$", out, re.M)) == 6, out
    with open_as_parquet(folder / "forecast.csv") as parquet:
        forecast = pq.read_table(parquet)
    assert forecast.column_names == ["store", "month", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert forecast.num_rows == 3 * 6
