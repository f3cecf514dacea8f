"""How a feature's values are distributed in training, and how far new values have drifted from it.

The trainer records a profile per feature with the model (``profile_column``); the predictor compares the actuals a
user sends with it (``population_stability_index``). Numbers are binned at the training deciles, categories counted
for the most frequent ones (the rest pooled as one). PSI = Σ (new − old) · ln(new / old) over the bins, with every
share floored at ``SHARE_FLOOR`` so that an empty bin does not make it infinite. The usual reading: below 0.1 the
distribution has not moved, 0.1–0.25 it moved somewhat, above 0.25 it moved a lot.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

NUMBER_BINS = 10
CATEGORIES_PROFILED = 20
OTHER_CATEGORIES = "(other)"
SHARE_FLOOR = 1e-4
PSI_MODERATE, PSI_MAJOR = 0.1, 0.25


def profile_column(values: pd.Series) -> dict[str, Any] | None:
    """The training distribution of one feature column, or None when there is nothing to bin (all missing)."""
    present = values.dropna()
    if present.empty:
        return None
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        numbers = present.to_numpy(dtype="float64")
        edges = np.unique(np.quantile(numbers, np.linspace(0, 1, NUMBER_BINS + 1))[1:-1])
        return {"kind": "number", "edges": edges.tolist(), "shares": _number_shares(numbers, edges).tolist()}
    if pd.api.types.is_datetime64_any_dtype(present):
        return None
    shares = present.astype(str).value_counts(normalize=True)
    kept = shares.head(CATEGORIES_PROFILED)
    profile = {str(category): float(share) for category, share in kept.items()}
    if len(shares) > len(kept):
        profile[OTHER_CATEGORIES] = float(shares.iloc[len(kept) :].sum())
    return {"kind": "category", "shares": profile}


def population_stability_index(profile: dict[str, Any], values: pd.Series) -> float | None:
    """PSI of ``values`` against a training ``profile`` (None when no value is present)."""
    present = values.dropna()
    if present.empty:
        return None
    if profile["kind"] == "number":
        numbers = pd.to_numeric(present, errors="coerce").dropna().to_numpy(dtype="float64")
        if not len(numbers):
            return None
        old = np.asarray(profile["shares"], dtype="float64")
        new = _number_shares(numbers, np.asarray(profile["edges"], dtype="float64"))
    else:
        training = profile["shares"]
        counts = present.astype(str).value_counts(normalize=True)
        known = [category for category in training if category != OTHER_CATEGORIES]
        other = float(counts[~counts.index.isin(known)].sum())
        old = np.array([training[category] for category in known] + [training.get(OTHER_CATEGORIES, 0.0)])
        new = np.array([float(counts.get(category, 0.0)) for category in known] + [other])
    old, new = np.maximum(old, SHARE_FLOOR), np.maximum(new, SHARE_FLOOR)
    return float(np.sum((new - old) * np.log(new / old)))


def drift_level(psi: float | None) -> str:
    if psi is None or math.isnan(psi):
        return "unknown"
    if psi < PSI_MODERATE:
        return "none"
    return "moderate" if psi < PSI_MAJOR else "major"


def _number_shares(numbers: np.ndarray, edges: np.ndarray) -> np.ndarray:
    bins = np.searchsorted(edges, numbers, side="right")
    return np.bincount(bins, minlength=len(edges) + 1) / len(numbers)
