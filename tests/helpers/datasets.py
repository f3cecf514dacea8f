"""The real datasets the tests read (never copied into the repository).

Their folder is ``SALESML_DATASETS_DIR``, by default ``shared/datasets`` beside the repository. Where it is absent
(a fresh clone, the Docker image, another CI runner) the tests that need it are skipped, never a collection error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASET_SUFFIXES = {".csv", ".parquet"}


def datasets_dir() -> Path:
    return Path(os.environ.get("SALESML_DATASETS_DIR") or REPO_ROOT.parent / "shared" / "datasets")


def real_dataset_names() -> list[str]:
    """The CSV and parquet files' names, sorted; none when the folder is absent (a parametrized test then skips)."""
    folder = datasets_dir()
    if not folder.is_dir():
        return []
    return sorted(path.name for path in folder.iterdir() if path.suffix in DATASET_SUFFIXES)


def real_dataset(name: str) -> Path:
    """The path of one dataset; skips the calling test when it is absent."""
    path = datasets_dir() / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {datasets_dir()} (set SALESML_DATASETS_DIR to the datasets folder)")
    return path
