"""Follow a training run by polling it, drawing a one-line text progress bar redrawn in place with '\\r'."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from cli.client import ApiError, ClientError, SalesMLClient

FINISHED_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
BAR_WIDTH = 30
POLL_INTERVAL_S = 1.0
MAX_CONSECUTIVE_POLL_FAILURES = 5


def render_progress(run: dict, width: int = BAR_WIDTH) -> str:
    """`[#####-----] 52% comparing models (lightgbm)`: the run's progress (0..1) and stage, or its final status."""
    fraction = min(max(float(run.get("progress") or 0.0), 0.0), 1.0)
    filled = int(fraction * width)
    if run.get("status") == "succeeded":
        filled, fraction = width, 1.0
    status = run.get("status") or ""
    label = status if status in FINISHED_STATUSES else run.get("stage") or status
    return f"[{'#' * filled}{'-' * (width - filled)}] {int(round(fraction * 100, 6))}% {label}".rstrip()


class ProgressLine:
    """One line of a text stream, rewritten in place; each new text is padded to hide a longer previous one."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = ""

    def show(self, text: str) -> None:
        if text == self.shown:
            return
        self.stream.write("\r" + text.ljust(len(self.shown)))
        self.stream.flush()
        self.shown = text

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def follow_run(
    client: SalesMLClient,
    project_id: int,
    run: dict,
    stream: TextIO,
    poll_interval_s: float = POLL_INTERVAL_S,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Poll the run until it finishes, drawing its progress on `stream`; returns the finished run.

    A few consecutive failed polls (gateway restarting, 5xx) are retried; more than that raise the last error.
    """
    line = ProgressLine(stream)
    failures = 0
    try:
        while True:
            line.show(render_progress(run))
            if run.get("status") in FINISHED_STATUSES:
                return run
            sleep(poll_interval_s)
            try:
                run = client.get_run(project_id, run["id"])
                failures = 0
            except ApiError as exc:
                if exc.code < 500:
                    raise
                failures = _count_failure(failures, exc)
            except ClientError as exc:
                failures = _count_failure(failures, exc)
    finally:
        line.close()


def _count_failure(failures: int, error: ClientError) -> int:
    if failures + 1 >= MAX_CONSECUTIVE_POLL_FAILURES:
        raise error
    return failures + 1
