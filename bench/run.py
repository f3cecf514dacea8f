"""``make bench`` / ``python -m bench.run [--quick] [--output FILE]``: the platform measured against PyCaret used
directly, in one run, on this machine.

It creates a throwaway PostgreSQL database on the local server, starts the platform (``bench.platform``) with a
file:// object store, trains the supplements example through the gateway, and then measures, side by side:

1. single-row predict latency through the gateway and the predictor alone, with each model's compiled scorer (the
   default) and with its PyCaret pipeline (PREDICT_COMPILED=0), the in-process floors, and the original platform's
   way (``joblib.load`` + ``predict_model`` on every request);
2. throughput of 1, 8 and 32 concurrent clients, compiled scorer against pipeline, and the CPU each request costs;
3. parquet scoring (parquet in, parquet out) through the gateway and in-process;
4. training wall time through the platform against the same PyCaret calls in-process, and on a Dask LocalCluster;
5. accuracy of the platform's default training on real datasets against published/own references;
6. the platform's default forecast on the real sales series against seasonal naive and statsforecast's methods,
   with interval coverage, training time and forecast latency;
7. every regression model the run trained, scored by its compiled scorer and by its pipeline: the largest difference.

The table goes to stdout and (full run by default, or ``--output``) to ``docs/BENCHMARK.md``. ``--quick`` uses tiny
sizes and skips Dask, accuracy and forecasting (the end-to-end test runs it). Nothing here asserts a timing: a missed
target is a MISS in the table. The exit code is non-zero only when a section could not be measured at all.
"""

from __future__ import annotations

import argparse
import os
import platform as host
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.accuracy import measure_accuracy
from bench.exactness import measure_exactness
from bench.forecasting import measure_forecasting
from bench.platform import THREADS, running_platform
from bench.report import SECTIONS, Report, Row
from bench.serving import measure_parquet, measure_serving
from bench.session import FULL, QUICK, Session, sign_in
from bench.training import train_supplements
from harness.databases import LOCAL_POSTGRES_SERVER, throwaway_database
from shared.config import REPO_ROOT
from shared.model_artifacts import library_versions

LATENCY, THROUGHPUT, PARQUET, TRAINING, ACCURACY, FORECASTING, EXACTNESS = SECTIONS
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "BENCHMARK.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few requests; no Dask, no accuracy")
    parser.add_argument("--output", type=Path, help=f"write the table here (full run default: {DEFAULT_OUTPUT})")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_POSTGRES_SERVER", LOCAL_POSTGRES_SERVER),
        help="PostgreSQL server for the throwaway database (default %(default)s)",
    )
    parser.add_argument("--predictor-workers", type=int, default=2, help="gunicorn processes of the predictor")
    parser.add_argument("--predictor-threads", type=int, default=THREADS["predictor"], help="threads per process")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a platform setting for every process, e.g. --set PREDICT_BATCH_WINDOW_MS=5 (repeatable)",
    )
    return parser.parse_args(argv)


# --- platform helpers -----------------------------------------------------------------------------------------------


# --- sections -------------------------------------------------------------------------------------------------------


# --- the run --------------------------------------------------------------------------------------------------------


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_text(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


def run_section(report: Report, section: str, measure: Callable[[], None]) -> bool:
    """Run one section; a failure becomes an ERROR row (the other sections still run)."""
    print(f"\n{section}", flush=True)
    try:
        measure()
        return True
    except Exception as exc:
        traceback.print_exc()
        report.add(Row(section, "could not be measured", f"{type(exc).__name__}: {str(exc)[:300]}", result="ERROR"))
        return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    settings = dict(setting.split("=", 1) for setting in args.set)
    load_at_start = os.getloadavg()
    started = time.perf_counter()
    versions = library_versions()
    report = Report(
        title="SalesML benchmark" + (" (--quick)" if args.quick else ""),
        context=[
            f"run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit `{git_commit()}` with `make bench`"
            + (" --quick" if args.quick else ""),
            f"machine: {os.cpu_count()} cores, {host.machine()}, Python {host.python_version()}; "
            + ", ".join(f"{name} {version}" for name, version in versions.items() if name != "python"),
            f"load average (1/5/15 min) at start: {load_text(load_at_start)}",
            "platform: gateway, projects, trainer, predictor under gunicorn gthread "
            f"({args.predictor_workers} predictor processes × {args.predictor_threads} threads; "
            "2 × 8 for the others, as docker/start.sh), one training worker, PostgreSQL 127.0.0.1:5432 "
            "(throwaway database), file:// object store; the benchmark's clients run on the same machine"
            + "".join(f"; {name}={value}" for name, value in settings.items()),
        ],
    )
    ok = True
    with (
        throwaway_database(args.postgres, "salesml_bench") as database_url,
        tempfile.TemporaryDirectory(prefix="salesml-bench-") as tmp,
    ):
        run_dir = Path(tmp)
        print(f"starting the platform (logs in {run_dir})", flush=True)
        with running_platform(
            database_url, run_dir, args.predictor_workers, args.predictor_threads, settings
        ) as platform:
            client, token, user_id = sign_in(platform, run_dir)
            session = Session(platform, client, database_url, run_dir, sizes, token, user_id)
            ok &= run_section(report, TRAINING, lambda: train_supplements(session, report))
            if session.model is not None:  # the predict sections need the supplements model
                ok &= run_section(report, LATENCY, lambda: measure_serving(session, report))
                ok &= run_section(report, PARQUET, lambda: measure_parquet(session, report))
            if sizes.accuracy:
                ok &= run_section(report, ACCURACY, lambda: measure_accuracy(session, report))
                ok &= run_section(report, FORECASTING, lambda: measure_forecasting(session, report))
            else:
                report.add(Row(ACCURACY, "skipped (--quick)", "-"))
                report.add(Row(FORECASTING, "skipped (--quick)", "-"))
            ok &= run_section(report, EXACTNESS, lambda: measure_exactness(session, report))
    report.context.append(
        f"load average at the end: {load_text(os.getloadavg())}; whole run {time.perf_counter() - started:.0f} s"
    )
    if max(load_at_start) > (os.cpu_count() or 1):
        report.notes.append(
            "The machine was loaded by other work during this run (load average above the core count): the "
            "timings are noisy and probably pessimistic."
        )
    report.notes += NOTES
    markdown = report.markdown()
    print("\n" + markdown)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown)
        print(f"written to {output}")
    return 0 if ok else 1


NOTES = [
    "Latency: sequential requests over one keep-alive connection, sent by the benchmark's lean client "
    "(`bench/load.py`: the request's bytes built once, the answer read by its length, tens of microseconds of CPU "
    "where `requests` spends about a millisecond). The predictor serves each model by its compiled "
    "scorer (plain lookups and arithmetic read from the fitted pipeline, verified bit for bit against it at load); "
    "it is then restarted with PREDICT_COMPILED=0 to serve through the PyCaret pipeline as before, and measured "
    "again. The requests straight to the predictor and through the gateway take turns, so a change in the "
    "machine's load weighs on both alike. The floors run in the benchmark process, after them and taking turns "
    "with each other only (a pipeline call between two requests slows the platform's next answer): the "
    "predictor's input contract on one JSON row, then the compiled scorer or the pipeline's own `predict`. The "
    "original way is `joblib.load` of the model file plus "
    "PyCaret's `predict_model` on every request, as the original platform served.",
    "Throughput: each client is a thread with its own kept-alive connection (the same lean client) sending one-row "
    "JSON predictions; each measurement stops after a fixed count or time. The client threads (Python, in the "
    "benchmark's process) share the two cores with the platform: the CPU rows show what each part costs per "
    "answered request.",
    "Training: the platform's time runs from the run's creation (POST /train) to its end, by the run's own "
    "`created_at` and `finished_at` (the client's poll, every 0.2 s, would add up to 0.2 s; what it saw is shown "
    "too), and so "
    "includes waking the worker (PostgreSQL LISTEN/NOTIFY), a training process made ready ahead (spawn + PyCaret "
    "import), loading the dataset from the object store, comparing the candidates in one `compare_models` call (a "
    "hook reports progress per candidate), the holdout and permutation-importance measurements, and saving the "
    "artifact. The in-process figure is the same PyCaret calls with the same settings (seed, folds, sort, "
    "candidates, 1 thread) in an already-warm process.",
    "Accuracy: the platform's default training (every fast PyCaret model, 5 folds, sorted by R²) on the uploaded "
    "file, as a user would do it; the references are from the shared datasets' README.md. PyCaret cross-validates "
    "on its 70% training split (and in time order when the data has a date column), the references on all rows. "
    "The row 'with categorical_features=[Store]' is the one training not made with the defaults: the user names the "
    "integer store number as a category. No default rule does it: an integer column with few values is as often a "
    "quantity, which one-hot or target encoding cannot extrapolate.",
    "Forecasting: each dataset's last periods are held out (Walmart 26 weeks, US retail 24 months, Stallion 6 "
    "months, Online Retail 28 days); the platform trains on what precedes them with `task: forecast` and the "
    "dataset's series and known-future columns only, choosing its model by its own rolling-origin backtest, and is "
    "asked through the gateway with the held-out periods' known-future values. The references are statsforecast "
    "2.1.1's methods with their defaults fitted on the same rows; 'best reference' is the best of them in "
    "hindsight, which the platform does not get to pick. The worker trains with 2 threads in this section.",
]


if __name__ == "__main__":
    sys.exit(main())
