"""Provenance: what a trained model was made from, so that results say which data made them and
models of another corpus or other features are never mixed in or chosen.

A model's provenance (:func:`training_provenance`) holds a fingerprint of the labelled corpus
(track ids, VAD labels and splits of ``soundtracks``), whether that corpus is the synthetic
demo, the fingerprint of its feature family's extraction parameters
(``ExtractionParams.fingerprint``), the code version (git commit and dirty flag), the
versions of the packages that shape results and the SHA-256 of the model file.
:func:`stale_reason` compares a model's record with the current corpus and features.
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import pandas as pd

from soundtrack_emotion.core.families import FEATURES
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import ModelUnavailableError
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
from soundtrack_emotion.runtime.paths import project_root

# Packages whose versions can change a model's numbers.
TRACKED_PACKAGES: tuple[str, ...] = (
    "soundtrack_emotion", "kedro", "tensorflow", "keras", "numpy", "pandas", "librosa",
    "soundfile", "soxr", "mlflow",
)  # fmt: skip
DEMO, REAL = "demo", "real"
GIT_TIMEOUT_S = 5
# A stale model's row: which model, and why its corpus or features are no longer current.
STALE_COLUMNS: tuple[str, ...] = ("feature", "network", "target", "corpus_kind", "reason")


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
    soundtracks: pd.DataFrame,
    feature_fingerprint: str,
    *,
    feature: str,
    is_demo: bool,
    model_sha256: str | None = None,
) -> dict[str, Any]:
    """The full provenance record of a model trained now on ``soundtracks`` with ``feature``
    features extracted as ``feature_fingerprint`` says; ``model_sha256``: the SHA-256 of its
    model file (checked before the file is used)."""
    return {
        "corpus": corpus_summary(soundtracks, is_demo=is_demo),
        "features": {"family": feature, "fingerprint": feature_fingerprint},
        "model": {"sha256": model_sha256},
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


def current_fingerprints(
    soundtracks: pd.DataFrame, feature_extraction: Mapping[str, Any]
) -> tuple[str, dict[str, str]]:
    """The current corpus fingerprint and every feature family's extraction fingerprint
    (without the networks' precision: a model stays current when only that changes)."""
    params = ExtractionParams.from_dict(feature_extraction)
    fingerprints = {}
    for family in FEATURES:
        # A family whose weights this machine lacks (an opt-in one) is not extracted here.
        with contextlib.suppress(ModelUnavailableError):
            fingerprints[family] = params.fingerprint(family, with_precision=False)
    return corpus_fingerprint(soundtracks), fingerprints


def current_model_metrics(
    model_metrics: pd.DataFrame,
    soundtracks: pd.DataFrame,
    feature_extraction: Mapping[str, Any],
    stale_models: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of ``model_metrics`` whose models were trained on the current corpus and
    features (a table written before the corpus changed may list others), and the stale
    models: ``stale_models`` (as ``collect_model_metrics`` wrote it) plus those rows' models,
    with the reason (``STALE_COLUMNS``)."""
    corpus, features = current_fingerprints(soundtracks, feature_extraction)
    stale = [] if stale_models is None else stale_models.to_dict("records")
    keep = pd.Series(True, index=model_metrics.index)
    key = ["feature", "network", "target"]
    for names, rows in model_metrics.groupby(key, sort=False):
        first = rows.iloc[0]
        record = {
            "corpus": {"fingerprint": first.get("corpus_fingerprint")},
            "features": {"family": first["feature"],
                         "fingerprint": first.get("features_fingerprint")},
        } if first.get("corpus_fingerprint") else None  # fmt: skip
        reason = stale_reason(record, corpus=corpus, features=features)
        if reason:
            keep[rows.index] = False
            kind = first.get("corpus_kind", "")
            stale.append({**dict(zip(key, names, strict=True)), "corpus_kind": kind,
                          "reason": reason})  # fmt: skip
    stale_table = pd.DataFrame(stale, columns=list(STALE_COLUMNS)).astype(str)
    return model_metrics[keep].reset_index(drop=True), stale_table.drop_duplicates(key)
