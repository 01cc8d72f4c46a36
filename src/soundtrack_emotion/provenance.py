"""Provenance: what a trained model was made from, so that results say which data made them and
models of another corpus or other features are never mixed in or chosen.

A model's provenance (:func:`training_provenance`) holds a fingerprint of the labelled corpus
(track ids, VAD labels and splits of ``soundtracks``), whether that corpus is the synthetic
demo, the fingerprint of its feature family's extraction parameters
(``ExtractionParams.fingerprint``), the code version (git commit and dirty flag) and the
versions of the packages that shape results. :func:`stale_reason` compares a model's record
with the current corpus and features.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import pandas as pd

from soundtrack_emotion.paths import project_root
from soundtrack_emotion.vad import VAD_LABELS

# Packages whose versions can change a model's numbers.
TRACKED_PACKAGES: tuple[str, ...] = (
    "soundtrack_emotion", "kedro", "tensorflow", "keras", "numpy", "pandas", "librosa",
    "soundfile", "soxr", "mlflow",
)  # fmt: skip
DEMO, REAL = "demo", "real"
GIT_TIMEOUT_S = 5


def corpus_fingerprint(soundtracks: pd.DataFrame) -> str:
    """Hash of the labelled corpus: every track's id, VAD labels (rounded to 1e-6, so a
    round trip through CSV does not change it) and split, in id order."""
    table = soundtracks[["id", *VAD_LABELS, "split"]].copy()
    table["id"] = table["id"].astype(str)
    table[list(VAD_LABELS)] = table[list(VAD_LABELS)].astype(float).round(6)
    table = table.sort_values("id", ignore_index=True)
    blob = table.to_csv(index=False, float_format="%.6f").encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def corpus_summary(soundtracks: pd.DataFrame, *, is_demo: bool) -> dict[str, Any]:
    """The corpus a model was trained on: kind (``demo`` or ``real``), fingerprint and counts
    per split."""
    counts = soundtracks["split"].astype(str).value_counts()
    return {
        "kind": DEMO if is_demo else REAL,
        "fingerprint": corpus_fingerprint(soundtracks),
        "n_tracks": len(soundtracks),
        "n_per_split": {split: int(n) for split, n in sorted(counts.items())},
    }


def code_version() -> dict[str, Any]:
    """Git commit and dirty flag of the project's checkout (``None`` outside a git checkout or
    without git)."""
    root = project_root()

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                check=True,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


def package_versions() -> dict[str, str | None]:
    """Installed version of each of :data:`TRACKED_PACKAGES` (``None`` when absent)."""
    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def training_provenance(
    soundtracks: pd.DataFrame, feature_fingerprint: str, *, feature: str, is_demo: bool
) -> dict[str, Any]:
    """The full provenance record of a model trained now on ``soundtracks`` with ``feature``
    features extracted as ``feature_fingerprint`` says."""
    return {
        "corpus": corpus_summary(soundtracks, is_demo=is_demo),
        "features": {"family": feature, "fingerprint": feature_fingerprint},
        "code": code_version(),
        "packages": package_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def stale_reason(
    provenance: Mapping[str, Any] | None,
    *,
    corpus: str,
    features: Mapping[str, str],
) -> str:
    """Why a model with ``provenance`` does not belong to the current corpus (fingerprint
    ``corpus``) and features (family -> fingerprint); ``""`` when it does."""
    if not provenance:
        return "no provenance record (trained before provenance was recorded)"
    trained_on = provenance.get("corpus", {}).get("fingerprint")
    if trained_on != corpus:
        return f"trained on another corpus ({trained_on}, current {corpus})"
    family = provenance.get("features", {}).get("family")
    made_with = provenance.get("features", {}).get("fingerprint")
    if family not in features:
        return f"its feature family {family!r} is not extracted now"
    if made_with != features[family]:
        return (
            f"trained on {family} features extracted with other parameters "
            f"({made_with}, current {features[family]})"
        )
    return ""
