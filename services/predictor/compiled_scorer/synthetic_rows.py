"""Rows made from a model's feature schema, to prove a compiled scorer against its pipeline.

Together they hold every category the trainer recorded and one never seen, each number's training minimum and
maximum, their middle, zero and values beyond both ends, and dates before 1970, on a leap day and far ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from services.predictor.input_contract import BOOLEAN, DATETIME, INTEGER, TEXT, Feature

UNSEEN_CATEGORY = "never seen in training"
MOMENTS = (
    "1970-01-01T00:00:00",
    "1969-12-31T23:59:59",
    "1900-03-01T12:30:15",
    "2000-02-29T00:00:00",
    "2024-12-31T23:59:59.999999",
    "2199-06-15T06:07:08",
)
RANDOM_VALUES = 8
MINIMUM_ROWS = 48


def covering_records(features: Sequence[Feature], seed: int = 0) -> list[dict[str, Any]]:
    """JSON-like records holding each feature's values at least once, boundaries in the first rows.

    Integer features get whole numbers only, so a column of them is int64 whatever rows are taken together.
    """
    rng = np.random.default_rng(seed)
    values = {feature.name: _values(feature, rng) for feature in features}
    rows = max([MINIMUM_ROWS, *map(len, values.values())])
    return [{name: listed[row % len(listed)] for name, listed in values.items()} for row in range(rows)]


def odd_records(features: Sequence[Feature], base: dict[str, Any]) -> list[dict[str, Any]]:
    """``base`` with one feature (then all of them) set to a value only a lone row shows as it is: a fraction for an
    integer feature (a batch of whole numbers is int64, one with a fraction float64), an unseen number category."""
    odd = {feature.name: value for feature in features if (value := _odd_value(feature)) is not None}
    records = [{**base, name: value} for name, value in odd.items()]
    return records + [{**base, **odd}] if len(odd) > 1 else records


def _values(feature: Feature, rng: np.random.Generator) -> list[Any]:
    if feature.kind == BOOLEAN:
        return [False, True]
    if feature.kind == DATETIME:
        days = rng.integers(7305, 23741, RANDOM_VALUES).astype("datetime64[D]")  # from 1990 to 2035
        drawn = days + rng.integers(0, 86_400, RANDOM_VALUES).astype("timedelta64[s]")
        return [*MOMENTS, *(str(moment) for moment in drawn)]
    if feature.kind == TEXT:
        return [*sorted(feature.categories or ("a", "b")), UNSEEN_CATEGORY, ""]
    low, high = _range(feature)
    span = high - low
    numbers = [low, high, (low + high) / 2, 0.0, low - span - 1, high + span + 1]
    numbers += rng.uniform(low - span, high + span, RANDOM_VALUES).tolist()
    if feature.categories:
        numbers = sorted(_numbers_in(feature.categories)) + numbers
    if feature.kind == INTEGER:
        return [int(np.floor(number)) for number in numbers]
    return numbers


def _numbers_in(categories: frozenset[str]) -> list[float]:
    numbers = []
    for category in categories:
        try:
            numbers.append(float(category))
        except ValueError:
            continue
    return numbers


def _range(feature: Feature) -> tuple[float, float]:
    if feature.minimum is None or feature.maximum is None:
        return -1000.0, 1000.0
    return feature.minimum, feature.maximum


def _odd_value(feature: Feature) -> Any:
    low, high = _range(feature)
    if feature.kind == INTEGER:
        return np.floor(low) + 0.5
    if feature.kind not in (BOOLEAN, DATETIME, TEXT) and feature.categories:
        return high + 0.25
    return None
