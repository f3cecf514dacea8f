"""The results table: one row per figure, with what it is compared with, the ratio, the target and PASS/MISS."""

from __future__ import annotations

from dataclasses import dataclass, field

SECTIONS = (
    "1. Single-row predict latency",
    "2. Throughput, concurrent clients",
    "3. Parquet batch scoring",
    "4. Training",
    "5. Accuracy, default settings",
    "6. Forecasting, default settings",
    "7. Compiled scorer against the pipeline",
)
PASS, MISS = "PASS", "MISS"


@dataclass(frozen=True)
class Row:
    section: str
    figure: str
    value: str
    compared_with: str = ""
    ratio: str = ""
    target: str = ""
    result: str = ""


def verdict(met: bool) -> str:
    return PASS if met else MISS


def number(value: float, digits: int = 1) -> str:
    """``1234.5`` → ``1,234.5``: figures in the table are read by people."""
    return f"{value:,.{digits}f}"


def ratio(value: float) -> str:
    return f"{value:,.1f}×" if value >= 1.0 else f"{value:,.2f}×"


@dataclass
class Report:
    title: str
    context: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  {row.figure}: {row.value} {row.compared_with} {row.ratio} {row.result}".rstrip(), flush=True)

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        lines += [f"- {line}" for line in self.context]
        lines.append("")
        for section in SECTIONS:
            lines += [f"## {section}", ""]
            rows = [row for row in self.rows if row.section == section]
            if not rows:
                lines += ["(not measured)", ""]
                continue
            lines.append("| figure | value | compared with | ratio | target | result |")
            lines.append("|---|---|---|---|---|---|")
            for row in rows:
                cells = (row.figure, row.value, row.compared_with, row.ratio, row.target, row.result)
                lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
            lines.append("")
        targets = [row for row in self.rows if row.result in (PASS, MISS)]
        if targets:
            lines += ["## Targets", ""]
            lines += [f"- {row.result}: {row.target} ({row.figure}: {row.value})" for row in targets]
            lines.append("")
        if self.notes:
            lines += ["## Notes", ""]
            lines += [f"- {note}" for note in self.notes]
            lines.append("")
        return "\n".join(lines)
