"""Where the real reference datasets are: ``SALESML_DATASETS_DIR``, by default ``shared/datasets`` beside the
repository (never copied into it). Absent in a fresh clone, the Docker image or another CI runner."""

from __future__ import annotations

import os
from pathlib import Path

from shared.config import REPO_ROOT

DATASET_SUFFIXES = {".csv", ".parquet"}


def datasets_dir() -> Path:
    return Path(os.environ.get("SALESML_DATASETS_DIR") or REPO_ROOT.parent / "shared" / "datasets")


def real_dataset_names() -> list[str]:
    """The CSV and parquet files' names, sorted; none when the folder is absent."""
    folder = datasets_dir()
    if not folder.is_dir():
        return []
    return sorted(path.name for path in folder.iterdir() if path.suffix in DATASET_SUFFIXES)
