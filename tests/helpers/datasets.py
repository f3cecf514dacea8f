"""The real datasets the tests read (never copied into the repository): skip, never fail, where they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.datasets import datasets_dir, real_dataset_names

__all__ = ["datasets_dir", "real_dataset", "real_dataset_names", "real_dataset_params"]


def real_dataset(name: str) -> Path:
    """The path of one dataset; skips the calling test when it is absent."""
    path = datasets_dir() / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {datasets_dir()} (set SALESML_DATASETS_DIR to the datasets folder)")
    return path


def real_dataset_params() -> list:
    """Parameters for a test run once per real dataset: their names, or one skipped case saying where they were
    looked for (not pytest's bare "got empty parameter set")."""
    names = real_dataset_names()
    if names:
        return names
    reason = f"no datasets in {datasets_dir()} (set SALESML_DATASETS_DIR to the datasets folder)"
    return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
