"""Why a prediction is what it is: each feature's contribution, in target units, adding up to the prediction.

The method, the same for every model (trees, linear models and the rest): interventional Shapley values against a
background sample of training rows (recorded with the model). A coalition S of features takes the row's values on S
and a background row's on the others; v(S) is the mean prediction over the background rows. A feature's contribution
is its Shapley value over v; the baseline is v(∅), the mean prediction over the background. So, exactly,

    baseline + Σ contributions = v(all features) = the prediction.

Up to ``EXACT_MAX_FEATURES`` features every coalition is scored (2^p × background rows, in one call to the model);
above that, ``SAMPLED_ORDERS`` random feature orders are (Shapley sampling), which keeps the sum exact. For a linear
model these are coef·(x − background mean) summed per input column; for trees, what SHAP's interventional
TreeExplainer computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from services.predictor.input_contract import PreparedInput
from shared.domain_errors import DomainError

EXACT_MAX_FEATURES = 10
SAMPLED_ORDERS = 24
BACKGROUND_ROWS = 25
MAIN_REASONS = 2

Predict = Callable[[PreparedInput], np.ndarray]


class CannotExplain(DomainError):
    """The model has no background sample to explain against (a version trained before it was recorded)."""

    message = (
        "This model version cannot explain its predictions: it was trained before explanations were recorded. "
        "Retrain to get them."
    )


@dataclass(frozen=True)
class Explanation:
    baseline: float
    contributions: list[dict[str, Any]]  # {"feature", "value", "effect"}, largest |effect| first
    summary: str

    def as_record(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "contributions": self.contributions, "summary": self.summary}


def explain_rows(
    predict: Predict,
    rows: PreparedInput,
    background: PreparedInput,
    predictions: np.ndarray,
    shown_values: list[dict[str, Any]],
    target: str,
    seed: int = 0,
) -> list[Explanation]:
    """One explanation per row of ``rows`` (prepared by the model's contract), against ``background`` rows."""
    names = list(rows.columns)
    background = _first_rows(background, BACKGROUND_ROWS)
    explanations = []
    for index in range(len(predictions)):
        row = {name: _value_at(rows.columns[name], index) for name in names}
        baseline, effects = _shapley(predict, names, row, background, np.random.default_rng(seed + index))
        contributions = sorted(
            (
                {"feature": name, "value": shown_values[index].get(name), "effect": float(effect)}
                for name, effect in zip(names, effects, strict=True)
            ),
            key=lambda entry: abs(entry["effect"]),
            reverse=True,
        )
        explanations.append(
            Explanation(baseline, contributions, summary(float(predictions[index]), baseline, contributions, target))
        )
    return explanations


def _shapley(
    predict: Predict, names: list[str], row: dict[str, Any], background: PreparedInput, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    p = len(names)
    if p <= EXACT_MAX_FEATURES:
        masks = (np.arange(2**p)[:, None] >> np.arange(p)[None, :]) & 1  # [coalition, feature]: 1 = the row's value
        values = _coalition_values(predict, names, row, background, masks.astype(bool))
        weights = np.array(
            [math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p) for size in range(p)]
        )
        sizes = masks.sum(axis=1)
        effects = np.zeros(p)
        for feature in range(p):
            without = np.flatnonzero(masks[:, feature] == 0)
            with_it = without | (1 << feature)
            effects[feature] = np.sum(weights[sizes[without]] * (values[with_it] - values[without]))
        return float(values[0]), effects
    orders = np.array([rng.permutation(p) for _ in range(SAMPLED_ORDERS)])
    masks = np.zeros((SAMPLED_ORDERS, p + 1, p), dtype=bool)  # each order's prefixes, from none to all
    for order_index, order in enumerate(orders):
        for step in range(1, p + 1):
            masks[order_index, step, order[:step]] = True
    values = _coalition_values(predict, names, row, background, masks.reshape(-1, p)).reshape(SAMPLED_ORDERS, p + 1)
    effects = np.zeros(p)
    for order_index, order in enumerate(orders):
        effects[order] += np.diff(values[order_index])
    return float(values[:, 0].mean()), effects / SAMPLED_ORDERS


def _coalition_values(
    predict: Predict, names: list[str], row: dict[str, Any], background: PreparedInput, masks: np.ndarray
) -> np.ndarray:
    """v(S) for each coalition (a row of ``masks``): the mean prediction over the background rows with the row's
    values on S. Every coalition × background row is scored in one call."""
    coalitions, rows_per = len(masks), len(next(iter(background.columns.values())))
    columns = {}
    for feature, name in enumerate(names):
        backdrop = np.tile(np.asarray(background.columns[name]), coalitions)
        own = np.repeat(masks[:, feature], rows_per)
        mixed = np.where(own, np.asarray([row[name]], dtype=backdrop.dtype)[0], backdrop)
        column = background.columns[name]
        columns[name] = pd.Categorical(mixed, categories=column.categories) if hasattr(column, "categories") else mixed
    predictions = predict(PreparedInput(columns))
    return predictions.reshape(coalitions, rows_per).mean(axis=1)


def summary(prediction: float, baseline: float, contributions: list[dict[str, Any]], target: str) -> str:
    """One sentence in plain words: how far from the average, and the main reasons each way."""
    difference = prediction - baseline
    direction = "above" if difference >= 0 else "below"
    sentence = (
        f"Predicted {target} {number(prediction)}: {number(abs(difference))} {direction} the average of "
        f"{number(baseline)} for the training rows"
    )
    pushing = [entry for entry in contributions if entry["effect"] * difference > 0][:MAIN_REASONS]
    holding = [entry for entry in contributions if entry["effect"] * difference < 0][:1]
    if pushing:
        sentence += ", mostly because of " + " and ".join(_reason(entry) for entry in pushing)
    if holding:
        sentence += f", while {_reason(holding[0])} pulls the other way"
    return sentence + "."


def _reason(entry: dict[str, Any]) -> str:
    return f"{entry['feature']} = {entry['value']} ({entry['effect']:+.4g})"


def number(value: float) -> str:
    """A figure as a summary sentence writes it: four significant digits, or whole units from 10,000."""
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _value_at(column: Any, index: int) -> Any:
    return np.asarray(column)[index]


def _first_rows(prepared: PreparedInput, count: int) -> PreparedInput:
    return PreparedInput({name: column[:count] for name, column in prepared.columns.items()})
