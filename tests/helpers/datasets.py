"""The real datasets the tests read (never copied into the repository): skip, never fail, where they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.datasets import datasets_dir, real_dataset_names

__all__ = ["datasets_dir", "real_dataset", "real_dataset_names"]


def real_dataset(name: str) -> Path:
    """The path of one dataset; skips the calling test when it is absent."""
    path = datasets_dir() / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {datasets_dir()} (set SALESML_DATASETS_DIR to the datasets folder)")
    return path
