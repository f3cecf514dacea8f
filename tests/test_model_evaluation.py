"""What a training measures about its model: scores, permutation importance in target units, the training profile and
drift against it, and the champion/challenger decision."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.trainer import model_evaluation
from services.trainer.model_evaluation import (
    ACTIVATED,
    NOT_ACTIVATED,
    PERMUTATION_REPEATS,
    decide_activation,
    holdout_sample,
    permutation_importance,
    training_profile,
)
from shared.drift import drift_level, population_stability_index, profile_column
from shared.regression_metrics import regression_scores


def test_scores_include_wape_and_bias():
    actual = np.array([10.0, 20.0, 30.0, 40.0])
    predicted = np.array([12.0, 18.0, 33.0, 41.0])
    scores = regression_scores(actual, predicted)
    assert scores["MAE"] == pytest.approx(2.0)
    assert scores["RMSE"] == pytest.approx(np.sqrt((4 + 4 + 9 + 1) / 4))
    assert scores["WAPE"] == pytest.approx(8 / 100)
    assert scores["bias"] == pytest.approx(1.0)
    assert scores["R2"] == pytest.approx(1 - 18 / 500)
    assert scores["MAPE"] == pytest.approx(np.mean([0.2, 0.1, 0.1, 0.025]))
    assert regression_scores(np.zeros(3), np.ones(3))["MAPE"] is None  # no MAPE of zeros


def test_permutation_importance_is_the_mae_growth_in_target_units():
    """sales = 3·price + noise-free, and a column the model ignores: shuffling price costs about 3·E|Δprice|."""
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"price": rng.uniform(0, 10, 2000), "colour": rng.choice(["red", "blue"], 2000)})
    actual = 3 * rows["price"].to_numpy()

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return 3 * frame["price"].to_numpy()

    importance = permutation_importance(predict, rows, actual, seed=1)
    assert [entry["feature"] for entry in importance] == ["price", "colour"]
    # E|X − X'| for two independent uniforms on [0, 10] is 10/3, so the MAE grows by about 3 · 10/3 = 10 units.
    assert importance[0]["importance"] == pytest.approx(10.0, rel=0.05)
    assert importance[1]["importance"] == 0.0


def test_permutation_importance_scores_the_shuffled_copies_together_whatever_the_grouping(monkeypatch):
    """A pipeline call costs the same for 10 rows or 10,000: the copies go in as few calls as the row cap allows,
    and the grouping changes no figure. A category column stays a category when shuffled."""
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"price": rng.uniform(0, 10, 500), "colour": pd.Categorical(rng.choice(["red", "blue"], 500))})
    actual = 3 * rows["price"].to_numpy() + (rows["colour"] == "red").to_numpy()
    calls = []

    def predict(frame: pd.DataFrame) -> np.ndarray:
        calls.append(len(frame))
        assert isinstance(frame["colour"].dtype, pd.CategoricalDtype)
        return 3 * frame["price"].to_numpy() + (frame["colour"] == "red").to_numpy()

    together = permutation_importance(predict, rows, actual, seed=1)
    assert calls == [500, 500 * 2 * PERMUTATION_REPEATS]  # the baseline, then every copy in one call
    calls.clear()
    monkeypatch.setattr(model_evaluation, "PERMUTATION_ROWS_PER_CALL", 1200)  # two copies a call
    assert permutation_importance(predict, rows, actual, seed=1) == together
    assert calls == [500] + [1000] * PERMUTATION_REPEATS
    assert [entry["feature"] for entry in together] == ["price", "colour"] and together[1]["importance"] > 0


def test_the_training_profile_bins_numbers_counts_categories_and_keeps_a_background_sample():
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "price": rng.uniform(50, 350, 1000),
            "product": rng.choice(["BCAA", "Creatina", "Whey"], 1000),
            "day": pd.date_range("2024-01-01", periods=1000, freq="h"),
            "sales": rng.normal(100, 5, 1000),
        }
    )
    profile = training_profile(data, "sales", seed=3)
    assert set(profile["features"]) == {"price", "product"}  # a date is not binned
    assert profile["features"]["price"]["kind"] == "number" and len(profile["features"]["price"]["edges"]) == 9
    assert sum(profile["features"]["price"]["shares"]) == pytest.approx(1.0)
    assert set(profile["features"]["product"]["shares"]) == {"BCAA", "Creatina", "Whey"}
    assert len(profile["background"]) == 100 and set(profile["background"][0]) == {"price", "product", "day"}


def test_drift_is_none_for_the_same_distribution_and_major_for_a_shifted_one():
    rng = np.random.default_rng(0)
    training = pd.Series(rng.uniform(50, 350, 5000))
    profile = profile_column(training)
    same = population_stability_index(profile, pd.Series(rng.uniform(50, 350, 500)))
    shifted = population_stability_index(profile, pd.Series(rng.uniform(250, 450, 500)))
    assert drift_level(same) == "none" and drift_level(shifted) == "major"
    products = profile_column(pd.Series(rng.choice(["a", "b", "c"], 3000)))
    new_product = population_stability_index(products, pd.Series(["a"] * 100 + ["z"] * 400))
    assert drift_level(new_product) == "major"
    assert population_stability_index(profile, pd.Series([np.nan, None])) is None


def test_holdout_sample_keeps_at_most_500_pairs_in_order():
    actual = np.arange(2000, dtype=float)
    sample = holdout_sample(actual, actual + 1, seed=0)
    assert sample["kind"] == "holdout" and len(sample["rows"]) == 500
    kept = [row["actual"] for row in sample["rows"]]
    assert kept == sorted(kept) and all(row["predicted"] == row["actual"] + 1 for row in sample["rows"])


@pytest.mark.parametrize(
    ("mode", "metric", "challenger", "champion", "problem", "decision", "reason"),
    [
        ("if_better", "R2", 0.9, None, None, ACTIVATED, "no serving model"),
        ("if_better", "R2", 0.9, 0.8, None, ACTIVATED, "beats the serving model (version 3)"),
        ("if_better", "R2", 0.14, 0.87, None, NOT_ACTIVATED, "does not beat the serving model (version 3)"),
        ("if_better", "MAE", 10.0, 12.0, None, ACTIVATED, "beats"),
        ("if_better", "MAE", 12.0, 10.0, None, NOT_ACTIVATED, "does not beat"),
        ("if_better", "R2", 0.1, None, "the dataset has no column `x`", ACTIVATED, "cannot be scored"),
        ("always", "R2", 0.1, 0.9, None, ACTIVATED, "activate: always"),
        ("never", "R2", 0.99, 0.1, None, NOT_ACTIVATED, "activate: never"),
    ],
)
def test_the_challenger_serves_only_when_it_beats_the_champion_unless_told(
    mode, metric, challenger, champion, problem, decision, reason
):
    champion_version = None if champion is None and problem is None else 3
    activation = decide_activation(mode, metric, challenger, champion_version, champion, problem)
    assert activation.decision == decision
    assert reason in activation.reason
    assert activation.as_record()["challenger_score"] == challenger
