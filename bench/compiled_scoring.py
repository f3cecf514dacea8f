"""``python -m bench.compiled_scoring [--quick]``: compiled scorers against their pipelines, in this process.

Trains lr, ridge, lightgbm, dt, gbr, et and rf with and without ``normalize`` on generated shop sales (a date, text
and number categories of every encoding, a flag), the trainer's way, and prints for each model:

- the compiled scorer's µs per row, for one row and for 100k rows (prepared columns in, predictions out);
- ``pipeline.predict``'s ms for one row (a prepared frame in);
- the largest difference between the compiled answer and the one-row pipeline answer on rows synthesized from the
  feature schema (0 when exact), and between the pipeline's own answers for those rows alone and in one call (BLAS
  rounding in linear models, and categories: a fraction in an integer column makes a batch's 7 read as "7.0");
- whether the scorer verified (``verified_scorer``), and how long that took at load.

Then, for the plain lr, how many one-row predictions per second 1, 8 and 32 threads get from the compiled scorer
called directly and through the request batcher (``MicroBatcher``), and from the pipeline batched as it serves
today: the figures behind serving compiled models unbatched. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.measure import median_seconds
from harness.data import SHOP_CATEGORIES, shop_sales_frame
from harness.pipelines import fitted_pipelines
from services.predictor.batching import MicroBatcher
from services.predictor.compiled_scorer import verified_scorer
from services.predictor.compiled_scorer.synthetic_rows import covering_records, odd_records
from services.predictor.input_contract import InputContract

MODELS = ("lr", "ridge", "lightgbm", "dt", "gbr", "et", "rf")
TRAINING_ROWS = 600
BULK_ROWS = 100_000
COMPARED_ROWS = 40
THREADS = (1, 8, 32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 models, 10k bulk rows, fewer repeats")
    args = parser.parse_args()
    models = MODELS[:2] if args.quick else MODELS
    bulk_rows = 10_000 if args.quick else BULK_ROWS
    repeats = 200 if args.quick else 2000

    records = shop_sales_frame(bulk_rows, seed=7).drop(columns="sales").astype({"day": str}).to_dict("records")
    print(
        f"{'model':<20} {'compiled µs/row':>16} {'at 100k':>8} {'pipeline ms':>12} {'max |Δ|':>8} "
        f"{'pipeline alone/batch |Δ|':>25} {'verified':>9} {'load s':>7}"
    )
    with tempfile.TemporaryDirectory() as work_dir:
        for normalize in (False, True):
            pipelines, features = fitted_pipelines(
                shop_sales_frame(TRAINING_ROWS),
                models,
                Path(work_dir),
                categorical=SHOP_CATEGORIES,
                normalize=normalize,
            )
            contract = InputContract(features, "sales", max_string_length=1000)
            for model_id, pipeline in pipelines.items():
                name = f"{model_id}{' normalize' if normalize else ''}"
                print(_model_row(name, pipeline, contract, records, repeats), flush=True)
        print()
        pipelines, features = fitted_pipelines(
            shop_sales_frame(TRAINING_ROWS), ("lr",), Path(work_dir), categorical=SHOP_CATEGORIES
        )
    _batching_figures(pipelines["lr"], InputContract(features, "sales", 1000), records, quick=args.quick)


def _model_row(name: str, pipeline: Any, contract: InputContract, records: list[dict], repeats: int) -> str:
    started = time.perf_counter()
    scorer = verified_scorer(pipeline, contract, name)
    load_s = time.perf_counter() - started
    one = contract.prepare_records(records[:1])
    pipeline_ms = median_seconds(lambda: pipeline.predict(one.frame), max(repeats // 40, 10)) * 1e3
    synthesized = covering_records(contract.features)
    synthesized = synthesized[:COMPARED_ROWS] + odd_records(contract.features, synthesized[0])
    alone = np.array([pipeline.predict(contract.prepare_records([r]).frame)[0] for r in synthesized], dtype=float)
    in_one_call = np.asarray(pipeline.predict(contract.prepare_records(synthesized).frame), dtype=float)
    pipeline_spread = float(np.abs(alone - in_one_call).max())
    if scorer is None:
        return (
            f"{name:<20} {'-':>16} {'-':>8} {pipeline_ms:>12.2f} {'-':>8} {pipeline_spread:>25.3g} {'no':>9} "
            f"{load_s:>7.2f}"
        )
    one_us = median_seconds(lambda: scorer.predict(one.columns), repeats) * 1e6
    bulk = contract.prepare_records(records)
    bulk_us = median_seconds(lambda: scorer.predict(bulk.columns), 3) * 1e6 / len(records)
    compiled = scorer.predict(contract.prepare_records(synthesized).columns)
    difference = float(np.abs(compiled - alone).max())
    return (
        f"{name:<20} {one_us:>16.1f} {bulk_us:>8.2f} {pipeline_ms:>12.2f} {difference:>8.3g} "
        f"{pipeline_spread:>25.3g} {'yes':>9} {load_s:>7.2f}"
    )


def _batching_figures(pipeline: Any, contract: InputContract, records: list[dict], quick: bool) -> None:
    scorer = verified_scorer(pipeline, contract, "lr")
    assert scorer is not None, "the plain lr must compile"
    lock = threading.Lock()

    def pipeline_predict(frame: Any) -> np.ndarray:
        with lock:  # as LoadedModel: a PyCaret pipeline is not safe from two threads
            return np.asarray(pipeline.predict(frame), dtype=float)

    compiled_batcher = MicroBatcher(scorer.predict, window_s=0.002, max_rows=4096, timeout_s=30)
    pipeline_batcher = MicroBatcher(pipeline_predict, window_s=0.002, max_rows=4096, timeout_s=30)

    def direct(record: dict) -> None:
        scorer.predict(contract.prepare_records([record]).columns)

    def batched_with(batcher: MicroBatcher) -> Callable[[dict], None]:
        def batched(record: dict) -> None:
            with batcher.arriving() as arrival:
                prepared = contract.prepare_records([record])
                batcher.predict(prepared.frame, arrival)

        return batched

    ways = {
        "compiled, direct": direct,
        "compiled, batcher": batched_with(compiled_batcher),
        "pipeline, batcher": batched_with(pipeline_batcher),
    }
    print("one-row predictions per second (input contract included), by threads")
    print(f"{'':<20} " + " ".join(f"{threads:>8}" for threads in THREADS))
    for name, way in ways.items():
        total = (64 if quick else 320) if name.startswith("pipeline") else (640 if quick else 6400)
        rates = [_rate(way, records, threads, total // threads) for threads in THREADS]
        print(f"{name:<20} " + " ".join(f"{rate:>8.0f}" for rate in rates), flush=True)
    compiled_batcher.close()
    pipeline_batcher.close()


def _rate(way: Callable[[dict], None], records: list[dict], threads: int, per_thread: int) -> float:
    """Predictions per second of ``threads`` threads each making ``per_thread`` one-row predictions."""
    start = threading.Barrier(threads + 1)

    def client(offset: int) -> None:
        start.wait()
        for index in range(per_thread):
            way(records[(offset * per_thread + index) % len(records)])

    workers = [threading.Thread(target=client, args=(offset,)) for offset in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return threads * per_thread / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
