"""Model artifacts: the trained PyCaret pipeline as bytes, its HMAC, its sha256 and the library versions that made it.

A pickle runs code when loaded, so ``load_pipeline`` unpickles only bytes that carry the trainer's HMAC under the
server's ``MODEL_SIGNING_KEY``. A sha256 stored next to the bytes proves nothing: whoever can rewrite the row can
rewrite both, but not forge the HMAC without the key. The HMAC signs the project id, the version and the sha256
together, so a signed artifact copied into another row (another project's, or another version) is refused too. The
library versions must also match (a pickled pipeline merely warns otherwise).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import platform
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import joblib

# The packages whose version must match between the trainer that pickled a pipeline and the predictor loading it
# (a forecast model pickles statsforecast and mlforecast objects, and mlforecast's coreforecast transforms).
PINNED_PACKAGES = (
    "pycaret",
    "scikit-learn",
    "numpy",
    "pandas",
    "lightgbm",
    "joblib",
    "statsforecast",
    "mlforecast",
    "coreforecast",
    "utilsforecast",
)
# Names what the HMAC covers; rows signed before it (the bytes alone) no longer match and are refused: retrain them.
HMAC_SCHEME = "salesml-model-artifact-v2"


class ArtifactRejected(Exception):
    """The artifact's bytes or library versions do not match its record; it was not unpickled."""


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PINNED_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dump_pipeline(pipeline: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    return buffer.getvalue()


@dataclass(frozen=True)
class ArtifactRecord:
    """What the trainer recorded beside a model's bytes, in its ``model_versions`` row."""

    project_id: int
    version: int
    sha256: str
    hmac: str | None
    library_versions: dict[str, str]


def artifact_hmac(signing_key: str, project_id: int, version: int, sha256: str) -> str:
    """What the trainer records beside an artifact: HMAC-SHA256, under the server's signing key, of the project id,
    the version and the artifact's sha256, which only together name one model."""
    message = "\0".join((HMAC_SCHEME, str(project_id), str(version), sha256)).encode()
    return hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()


def check_artifact(artifact: bytes, record: ArtifactRecord, signing_key: str) -> None:
    """Raise ``ArtifactRejected`` unless the bytes carry our HMAC for this row and match its sha256 and the running
    library versions."""
    actual = sha256_hex(artifact)
    expected_hmac = artifact_hmac(signing_key, record.project_id, record.version, actual)
    if not record.hmac or not hmac.compare_digest(expected_hmac, record.hmac):
        raise ArtifactRejected(
            "artifact HMAC does not match: it was not written by our trainer for this project and version "
            "(or the key changed)"
        )
    if actual != record.sha256:
        raise ArtifactRejected(f"artifact sha256 {actual[:12]}… does not match the recorded {record.sha256[:12]}…")
    recorded_versions = record.library_versions
    running = library_versions()
    mismatched = {
        name: (recorded, running.get(name))
        for name, recorded in recorded_versions.items()
        if name != "python" and running.get(name) != recorded
    }
    if recorded_versions.get("python", "").rsplit(".", 1)[0] != running["python"].rsplit(".", 1)[0]:
        mismatched["python"] = (recorded_versions.get("python"), running["python"])
    if mismatched:
        described = ", ".join(f"{n} {r} (running {now})" for n, (r, now) in sorted(mismatched.items()))
        raise ArtifactRejected(f"artifact was made with other library versions: {described}")


def load_checked_artifact(artifact: bytes) -> Any:
    """Unpickle bytes that ``check_artifact`` has accepted (the trainer's worker checks the serving model before it
    hands it to a training process to compare with)."""
    return joblib.load(io.BytesIO(artifact))


def load_pipeline(artifact: bytes, record: ArtifactRecord, signing_key: str) -> Any:
    """Unpickle a pipeline that our trainer wrote, after ``check_artifact`` accepts it."""
    check_artifact(artifact, record, signing_key)
    return load_checked_artifact(artifact)
