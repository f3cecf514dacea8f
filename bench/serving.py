"""Sections 1–3: single-row latency, throughput of concurrent clients, parquet batch scoring."""

from __future__ import annotations

import io
import os

import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq
import requests

from bench.measure import Latency, Throughput, interleaved_latencies, latency_of, median_seconds, throughput_of
from bench.platform import BenchPlatform
from bench.report import SECTIONS, Report, Row, number, ratio, verdict
from bench.session import (
    FEATURE_ROW,
    Session,
    parquet_body,
    predict_parquet_via_gateway,
)
from demo.supplements import generate_supplements_sales
from shared.internal_auth import INTERNAL_TOKEN_HEADER, issue_internal_token

LATENCY, THROUGHPUT, PARQUET, TRAINING, ACCURACY = SECTIONS

MAX_GATEWAY_OVERHEAD_MS = 5.0
MIN_SPEEDUP_OVER_ORIGINAL = 10.0
MIN_BATCHING_GAIN = 10.0
MIN_PARQUET_ROWS_PER_S = 500_000


def measure_latency(session: Session, report: Report) -> None:
    import joblib
    from pycaret.regression import predict_model

    sizes = session.sizes
    frame = pd.DataFrame([FEATURE_ROW]).astype(session.training_data.drop(columns="sales").dtypes.to_dict())
    http = requests.Session()
    url = session.predict_url()

    def through_gateway() -> None:
        answer = http.post(url, json=FEATURE_ROW, headers=session.auth, timeout=60)
        if answer.status_code != 200:
            raise RuntimeError(f"predict answered {answer.status_code}: {answer.text[:300]}")

    predictor_url = f"{session.platform.url('predictor')}/api/v1/projects/{session.project_id}/predict"
    secret = session.platform.env["INTERNAL_TOKEN_SECRET"]

    def predictor_alone() -> None:
        token = issue_internal_token(secret, "predictor", session.user_id)
        answer = http.post(predictor_url, json=FEATURE_ROW, headers={INTERNAL_TOKEN_HEADER: token}, timeout=60)
        if answer.status_code != 200:
            raise RuntimeError(f"predictor answered {answer.status_code}: {answer.text[:300]}")

    measured = interleaved_latencies(
        {"floor": lambda: session.pipeline.predict(frame), "direct": predictor_alone, "gateway": through_gateway},
        sizes.latency_requests,
    )
    floor, direct, gateway = measured["floor"], measured["direct"], measured["gateway"]

    model_file = session.run_dir / "model.pkl"
    joblib.dump(session.pipeline, model_file)  # what PyCaret's save_model writes
    original = latency_of(
        lambda: predict_model(joblib.load(model_file), data=frame.copy(), verbose=False),
        sizes.original_requests,
        warmup=1,
    )
    http.close()

    added = gateway.p50_ms - floor.p50_ms
    report.add(
        Row(
            LATENCY,
            f"through the gateway, one JSON row (p50 / p99 of {gateway.count})",
            _p50_p99(gateway),
            f"in-process pipeline.predict: {_p50_p99(floor)}",
            f"{added:+.1f} ms at p50",
            f"gateway adds ≤ {MAX_GATEWAY_OVERHEAD_MS:g} ms",
            verdict(added <= MAX_GATEWAY_OVERHEAD_MS),
        )
    )
    report.add(
        Row(
            LATENCY,
            "predictor alone, no gateway (internal token)",
            _p50_p99(direct),
            f"through the gateway: {_p50_p99(gateway)}",
            f"gateway hop {gateway.p50_ms - direct.p50_ms:+.1f} ms at p50",
        )
    )
    report.add(Row(LATENCY, f"in-process pipeline.predict floor (p50 / p99 of {floor.count})", _p50_p99(floor)))
    speedup = original.p50_ms / gateway.p50_ms
    report.add(
        Row(
            LATENCY,
            f"original way: joblib.load + predict_model per request (p50 / p99 of {original.count})",
            _p50_p99(original),
            f"through the gateway: {_p50_p99(gateway)}",
            f"gateway {ratio(speedup)} faster",
            f"≥ {MIN_SPEEDUP_OVER_ORIGINAL:g}× faster than the original way",
            verdict(speedup >= MIN_SPEEDUP_OVER_ORIGINAL),
        )
    )


def _p50_p99(latency: Latency) -> str:
    return f"{number(latency.p50_ms)} / {number(latency.p99_ms)} ms"


def measure_throughput(session: Session, report: Report) -> None:
    sizes = session.sizes
    url = session.predict_url()

    def send(http: requests.Session) -> bool:
        try:
            answer = http.post(url, json=FEATURE_ROW, headers=session.auth, timeout=60)
        except requests.RequestException:
            return False
        return answer.status_code == 200

    measured: dict[bool, dict[int, Throughput]] = {}
    cpu: dict[bool, dict[str, float]] = {}
    for batching in (True, False):
        if not batching:
            session.platform.restart("predictor", PREDICT_BATCHING=False)
        measured[batching] = {}
        for clients in sizes.clients:
            before = cpu_seconds_by_process(session.platform)
            measured[batching][clients] = throughput_of(
                send, clients, sizes.throughput_requests, sizes.throughput_seconds
            )
            after = cpu_seconds_by_process(session.platform)
            if clients == max(sizes.clients):
                answered = max(measured[batching][clients].requests, 1)
                cpu[batching] = {name: (after[name] - before[name]) * 1000.0 / answered for name in after}
    session.platform.restart("predictor")
    for clients in sizes.clients:
        on, off = measured[True][clients], measured[False][clients]
        gain = on.per_second / off.per_second if off.per_second else float("inf")
        failures = on.failures + off.failures
        is_target = clients == max(sizes.clients)
        report.add(
            Row(
                THROUGHPUT,
                f"{clients} client{'s' if clients > 1 else ''}, batching on"
                + (f" ({failures} failed requests)" if failures else ""),
                f"{number(on.per_second)} req/s",
                f"batching off (one request, one predict): {number(off.per_second)} req/s",
                ratio(gain),
                f"≥ {MIN_BATCHING_GAIN:g}× batching off at {clients} clients" if is_target else "",
                verdict(gain >= MIN_BATCHING_GAIN) if is_target else "",
            )
        )
    cores = os.cpu_count() or 1
    for batching in (True, False):
        per_request = cpu[batching]
        total = sum(per_request.values())
        report.add(
            Row(
                THROUGHPUT,
                f"CPU per answered request at {max(sizes.clients)} clients, batching {'on' if batching else 'off'}",
                f"{number(total)} ms",
                ", ".join(f"{name} {number(ms)}" for name, ms in per_request.items()),
                f"{cores} cores ÷ {number(total)} ms = {number(cores * 1000.0 / total, 0)} req/s at most",
            )
        )


def cpu_seconds_by_process(platform: BenchPlatform) -> dict[str, float]:
    times = psutil.Process().cpu_times()
    return {
        "gateway": platform.cpu_seconds("gateway"),
        "predictor": platform.cpu_seconds("predictor"),
        "benchmark clients": times.user + times.system,
    }


def measure_parquet(session: Session, report: Report) -> None:
    sizes = session.sizes
    http = requests.Session()
    for rows in sizes.parquet_rows:
        features = generate_supplements_sales(rows=rows, seed=1).drop(columns="sales")
        body = parquet_body(features)

        def via_gateway(body: bytes = body, rows: int = rows) -> None:
            scored = predict_parquet_via_gateway(session, http, body, session.project_id)
            if len(scored) != rows or "prediction" not in scored.columns:
                raise RuntimeError(f"parquet predict returned {len(scored)} rows, columns {list(scored.columns)}")

        def in_process(body: bytes = body) -> None:
            frame = pq.read_table(io.BytesIO(body)).to_pandas()
            frame["prediction"] = np.asarray(session.pipeline.predict(frame), dtype="float64")
            parquet_body(frame)

        via_gateway()  # warm-up
        gateway_rate = rows / median_seconds(via_gateway, sizes.parquet_repeats)
        local_rate = rows / median_seconds(in_process, sizes.parquet_repeats)
        report.add(
            Row(
                PARQUET,
                f"{rows:,} rows through the gateway (parquet in, parquet out; {len(body) / 1e6:.1f} MB in)",
                f"{number(gateway_rate, 0)} rows/s",
                f"in-process read parquet + pipeline.predict + write parquet: {number(local_rate, 0)} rows/s",
                ratio(gateway_rate / local_rate),
                f"> {MIN_PARQUET_ROWS_PER_S:,} rows/s",
                verdict(gateway_rate > MIN_PARQUET_ROWS_PER_S),
            )
        )
    http.close()
