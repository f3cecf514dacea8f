"""What-if: one base row, one or two columns varied over a list or a range, every point scored in one call.

With ``revenue_of`` naming the price column, each point also carries revenue (price × prediction), and the answer
names the point that earns most.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.predictor.input_contract import INTEGER, NUMBER, InputContract, InputRejected

MAX_VARIED_COLUMNS = 2


@dataclass(frozen=True)
class Curve:
    points: list[dict[str, Any]]
    best: dict[str, Any] | None
    warnings: list[str]


def varied_values(vary: list[dict[str, Any]], contract: InputContract, max_points: int) -> dict[str, list[Any]]:
    """Column → the values it takes, from ``values`` or from ``from``/``to``/``steps`` (evenly spaced, ends included).

    ``InputRejected`` names what is wrong: an unknown column, one varied twice, a range on a column that is not a
    number, too few steps, or more points than ``max_points``.
    """
    features = {feature.name: feature for feature in contract.features}
    problems: dict[str, list[str]] = {}
    values: dict[str, list[Any]] = {}
    if not 1 <= len(vary) <= MAX_VARIED_COLUMNS:
        raise InputRejected({"vary": [f"vary 1 or {MAX_VARIED_COLUMNS} columns"]})
    for entry in vary:
        column = entry["column"]
        if column not in features:
            known = ", ".join(f"`{name}`" for name in list(features)[:20])
            problems.setdefault("vary", []).append(f"`{column}` is not a feature of the model (its features: {known})")
        elif column in values:
            problems.setdefault("vary", []).append(f"`{column}` is varied twice")
        elif "values" in entry:
            values[column] = list(entry["values"])
        elif features[column].kind not in (NUMBER, INTEGER):
            problems.setdefault("vary", []).append(f"`{column}` is not a number: list its `values` instead of a range")
        else:
            values[column] = np.linspace(entry["from"], entry["to"], entry["steps"]).tolist()
    if problems:
        raise InputRejected(problems)
    points = math.prod(len(column_values) for column_values in values.values())
    if points > max_points:
        raise InputRejected({"vary": [f"{points:,} points; at most {max_points:,} are scored per request"]})
    return values


def grid(base: dict[str, Any], values: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The base row with every combination of the varied values (the first column varying slowest)."""
    names = list(values)
    combinations = itertools.product(*values.values())
    return [{**base, **dict(zip(names, combination, strict=True))} for combination in combinations]


def curve(
    rows: list[dict[str, Any]],
    values: dict[str, list[Any]],
    predictions: np.ndarray,
    revenue_of: str | None,
    warnings: list[str],
) -> Curve:
    """The points (varied columns, prediction, and revenue with ``revenue_of``) and the revenue-maximising one."""
    points = []
    for row, prediction in zip(rows, predictions, strict=True):
        point: dict[str, Any] = {name: row[name] for name in values}
        point["prediction"] = float(prediction)
        if revenue_of is not None:
            point["revenue"] = float(row[revenue_of]) * float(prediction)
        points.append(point)
    best = max(points, key=lambda point: point["revenue"]) if revenue_of is not None else None
    return Curve(points, dict(best) if best is not None else None, warnings)


def check_revenue_column(revenue_of: str | None, base: dict[str, Any], values: dict[str, list[Any]],
                         contract: InputContract) -> None:  # fmt: skip
    """``revenue_of`` must be a numeric feature, given in the base row or varied."""
    if revenue_of is None:
        return
    kinds = {feature.name: feature.kind for feature in contract.features}
    if kinds.get(revenue_of) not in (NUMBER, INTEGER):
        raise InputRejected({"revenue_of": [f"`{revenue_of}` is not a numeric feature of the model (a price is)"]})
    if revenue_of not in values and revenue_of not in base:
        raise InputRejected({"revenue_of": [f"`{revenue_of}` is neither in the base row nor varied"]})
