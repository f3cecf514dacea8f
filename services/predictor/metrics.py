"""The predictor's own Prometheus metrics (each app's request metrics are ``shared.metrics``')."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PREDICTIONS = Counter(
    "predictor_predictions", "Prediction requests answered with scores, by body format: json or parquet.", ("format",)
)
PREDICTION_ROWS = Histogram(
    "predictor_prediction_rows",
    "Rows scored per prediction request.",
    buckets=(1, 10, 100, 1_000, 10_000, 100_000, 1_000_000),
)
MODEL_CACHE_LOOKUPS = Counter(
    "predictor_model_cache_lookups",
    "Looks for a loaded model in this process's cache, by result: hit, or miss (loaded and checked from the database).",
    ("result",),
)


def count_prediction(body_format: str, rows: int) -> None:
    PREDICTIONS.labels(body_format).inc()
    PREDICTION_ROWS.observe(rows)
