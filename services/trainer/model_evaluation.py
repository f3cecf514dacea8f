"""What a training measures about its model besides the leaderboard: scores on the holdout, permutation importance
in target units, the training profile (for drift and explanations), and whether it should replace the model that
serves (champion and challenger, both scored on the new run's holdout rows with the same metric).

Nothing here knows PyCaret: a model is a function from raw rows (a DataFrame) to predictions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shared.drift import profile_column

Predict = Callable[[pd.DataFrame], np.ndarray]

HIGHER_IS_BETTER = frozenset({"R2"})
PERMUTATION_REPEATS = 5
PERMUTATION_ROWS_PER_CALL = 100_000
# Rows of the holdout kept with the model for an actual-vs-predicted chart, and training rows kept as the
# background explanations are computed against.
EVALUATION_ROWS = 500
BACKGROUND_ROWS = 100

ACTIVATE_IF_BETTER, ACTIVATE_ALWAYS, ACTIVATE_NEVER = "if_better", "always", "never"
ACTIVATION_MODES = (ACTIVATE_IF_BETTER, ACTIVATE_ALWAYS, ACTIVATE_NEVER)
ACTIVATED, NOT_ACTIVATED = "activated", "not_activated"


def permutation_importance(
    predict: Predict, rows: pd.DataFrame, actual: np.ndarray, seed: int
) -> list[dict[str, float | str | None]]:
    """How much the holdout MAE grows, in target units, when one column's values are shuffled (mean of a few
    shuffles), for every input column, largest first. Comparable across models, unlike coefficients.

    The shuffled copies are scored together, up to ``PERMUTATION_ROWS_PER_CALL`` rows per call: a PyCaret pipeline
    call costs tens of milliseconds whatever its size, and there is one copy per column and shuffle."""
    rng = np.random.default_rng(seed)
    baseline = float(np.mean(np.abs(predict(rows) - actual)))
    shuffles = ((column, _shuffled(rows, column, rng)) for column in rows.columns for _ in range(PERMUTATION_REPEATS))
    growth: dict[str, list[float]] = {str(column): [] for column in rows.columns}
    copies_per_call = max(1, PERMUTATION_ROWS_PER_CALL // max(len(rows), 1))
    while group := list(itertools.islice(shuffles, copies_per_call)):
        predicted = np.asarray(predict(pd.concat([copy for _, copy in group], ignore_index=True)), dtype="float64")
        for (column, _), scored in zip(group, np.split(predicted, len(group)), strict=True):
            growth[str(column)].append(float(np.mean(np.abs(scored - actual))) - baseline)
    importances = [{"feature": name, "importance": float(np.mean(values))} for name, values in growth.items()]
    return sorted(importances, key=lambda entry: entry["importance"], reverse=True)


def _shuffled(rows: pd.DataFrame, column: Any, rng: np.random.Generator) -> pd.DataFrame:
    """``rows`` with one column's values in a random order (its dtype kept)."""
    shuffled = rows.copy()
    shuffled[column] = rows[column].take(rng.permutation(len(rows))).set_axis(rows.index)
    return shuffled


def training_profile(data: pd.DataFrame, target: str, seed: int) -> dict[str, Any]:
    """Each feature's training distribution (``shared.drift``) and a small random sample of training rows."""
    features = [column for column in data.columns if column != target]
    profiles = {str(column): profile_column(data[column]) for column in features}
    sample = data[features].sample(n=min(BACKGROUND_ROWS, len(data)), random_state=seed)
    return {
        "features": {name: profile for name, profile in profiles.items() if profile is not None},
        "background": json_records(sample),
    }


def holdout_sample(actual: np.ndarray, predicted: np.ndarray, seed: int) -> dict[str, Any]:
    """Up to ``EVALUATION_ROWS`` holdout pairs, for an actual-vs-predicted chart."""
    keep = np.sort(np.random.default_rng(seed).permutation(len(actual))[:EVALUATION_ROWS])
    return {
        "kind": "holdout",
        "rows": [{"actual": float(actual[i]), "predicted": float(predicted[i])} for i in keep],
    }


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts: dates as ISO text, NaN as null."""
    import json

    return json.loads(frame.to_json(orient="records", date_format="iso"))


@dataclass(frozen=True)
class Activation:
    """Whether the new model serves, and why; stored with its run."""

    decision: str
    reason: str
    metric: str
    challenger_score: float | None
    champion_score: float | None
    champion_version: int | None

    @property
    def activates(self) -> bool:
        return self.decision == ACTIVATED

    def as_record(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "metric": self.metric,
            "challenger_score": self.challenger_score,
            "champion_score": self.champion_score,
            "champion_version": self.champion_version,
        }


def decide_activation(
    mode: str,
    metric: str,
    challenger_score: float | None,
    champion_version: int | None,
    champion_score: float | None,
    champion_problem: str | None = None,
) -> Activation:
    """``if_better``: the challenger serves when there is no champion, when the champion cannot be scored on the
    challenger's holdout, or when it scores better on the ``metric``; ``always``/``never`` decide by themselves."""

    def activation(decision: str, reason: str) -> Activation:
        return Activation(decision, reason, metric, challenger_score, champion_score, champion_version)

    if mode == ACTIVATE_ALWAYS:
        return activation(ACTIVATED, "the train request said activate: always")
    if mode == ACTIVATE_NEVER:
        return activation(NOT_ACTIVATED, "the train request said activate: never; activate it by hand to serve it")
    if champion_version is None:
        return activation(ACTIVATED, "the project had no serving model")
    if champion_problem is not None:
        return activation(
            ACTIVATED,
            f"the serving model (version {champion_version}) cannot be scored on this run's holdout "
            f"({champion_problem}), so the new model serves",
        )
    shown = f"{metric} {_shown(challenger_score)} against {_shown(champion_score)}"
    if _better(metric, challenger_score, champion_score):
        return activation(
            ACTIVATED, f"it beats the serving model (version {champion_version}) on this run's holdout: {shown}"
        )
    return activation(
        NOT_ACTIVATED,
        f"it does not beat the serving model (version {champion_version}) on this run's holdout: {shown}; the "
        "serving model stays (activate the new one by hand, or train with activate: always)",
    )


def _better(metric: str, challenger: float | None, champion: float | None) -> bool:
    if challenger is None:
        return False
    if champion is None:
        return True
    return challenger > champion if metric in HIGHER_IS_BETTER else challenger < champion


def _shown(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.4g}"
