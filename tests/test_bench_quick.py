"""``python -m bench.run --quick`` still runs end to end and writes a table with every section and real figures.

Only the harness is checked (so it cannot rot), never a timing: the machines are shared and noisy.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bench.report import SECTIONS
from shared.config import REPO_ROOT

# The unit each measured section's figures carry; accuracy is skipped by --quick.
MEASURED_UNITS = {
    SECTIONS[0]: " ms",
    SECTIONS[1]: " req/s",
    SECTIONS[2]: " rows/s",
    SECTIONS[3]: " s",
}
NUMBER = r"\d[\d,]*(\.\d+)?"


def section_rows(markdown: str, section: str) -> list[list[str]]:
    """The body rows of a section's table, as lists of cells."""
    body = markdown.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[1:]]


@pytest.mark.e2e
@pytest.mark.slow
def test_quick_benchmark_writes_every_section_with_figures(tmp_path):
    output = tmp_path / "BENCHMARK.md"
    finished = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--output", str(output)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    markdown = output.read_text()
    assert markdown in finished.stdout

    for section in SECTIONS:
        assert f"## {section}\n" in markdown
    for section, unit in MEASURED_UNITS.items():
        rows = section_rows(markdown, section)
        assert any(value.endswith(unit) for _, value, *_ in rows), f"no figure in{unit} in {section}"
        for figure, value, *_ in rows:
            assert re.fullmatch(rf"{NUMBER}( / {NUMBER})? [a-z/]+", value), f"{section}: {figure} = {value!r}"
    assert section_rows(markdown, SECTIONS[4])[0][0] == "skipped (--quick)"
    assert section_rows(markdown, SECTIONS[5])[0][0] == "skipped (--quick)"
    [exactness] = section_rows(markdown, SECTIONS[6])
    assert re.fullmatch(r"\d\S* units", exactness[1]), exactness

    targets = re.findall(r"^- (PASS|MISS): ", markdown, flags=re.MULTILINE)
    # latency p50, gateway hop, against the original way; throughput; parquet; training overhead; exactness
    assert len(targets) == 7
    assert "ERROR" not in markdown
    assert re.search(r"load average \(1/5/15 min\) at start: \d", markdown)
