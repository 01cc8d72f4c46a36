"""Fixtures shared across test packages."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets.raw_layer import RAW_ENTRIES, RawLayer
from soundtrack_emotion.demo import DemoConfig, DemoTrack, build_demo_corpus

CONF = Path(__file__).resolve().parents[1] / "conf"

# Tests never touch the network: missing MusiCNN weights are an error here, not a download
# (the set-up, `make test`, installs them first; test_pretrained fakes the download).
os.environ["SOUNDTRACK_EMOTION_FETCH"] = "0"

# A demo corpus small and short enough to build in about a second, bad entries included.
SMALL_DEMO = DemoConfig(
    seed=7,
    n_tracks=14,
    min_seconds=1.0,
    max_seconds=2.0,
    min_tracks_per_artist=2,
    max_tracks_per_artist=4,
    page_size=8,
)


@pytest.fixture(scope="session")
def small_demo_config() -> DemoConfig:
    """The configuration of the ``small_demo`` corpus."""
    return SMALL_DEMO


def _project_catalog(
    root: Path, names: Iterable[str], *, moved: Mapping[str, str] | None = None
) -> DataCatalog:
    """The project's catalog entries ``names`` (conf/base, through Kedro's loader so that
    globals interpolate) with their relative paths under ``root``, as a session puts them
    under the project root; ``moved`` gives some entries another path first."""
    config = OmegaConfigLoader(str(CONF), base_env="base", default_run_env="base")["catalog"]
    entries = {}
    for name in names:
        entry = dict(config[name])
        for key in ("path", "filepath"):
            if key in entry:
                entry[key] = str(root / (moved or {}).get(name, entry[key]))
        entries[name] = entry
    return DataCatalog.from_config(entries)


@pytest.fixture(scope="session")
def project_catalog() -> Callable[..., DataCatalog]:
    """``project_catalog(root, names, moved=None)``: see :func:`_project_catalog`."""
    return _project_catalog


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RawLayer, list[DemoTrack]]:
    """``(project root, raw layer, planned tracks)`` of a small demo corpus, written where the
    project's catalog puts the raw layer under a temporary root; treat it as read-only."""
    root = tmp_path_factory.mktemp("demo")
    layer = RawLayer.from_catalog(_project_catalog(root, RAW_ENTRIES.values()))
    return root, layer, build_demo_corpus(layer, SMALL_DEMO)


@pytest.fixture(autouse=True)
def _no_mlflow_run_left_active():
    """A test that starts an MLflow run (directly, or through the tracking node) never leaves
    it active for the next test, and the tracking URI goes back to its default."""
    yield
    import sys

    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        from mlflow.tracking.fluent import _active_run_stack

        stack = _active_run_stack.get()
        for _ in range(len(stack)):  # end_run pops one run, even when it then fails
            try:
                mlflow.end_run()
            except mlflow.exceptions.MlflowException:
                # Its store went with the test (a tmp_path, a monkeypatched URI): end_run has
                # already dropped it from the stack; nothing to mark as finished.
                continue
        mlflow.set_tracking_uri(None)


# ------------------------------------------------------------------------------ mood search
# A small scored catalogue with planted moods for the search tests: two dark tense movies, two
# sad calm ones, a happy lively one, a happy calm one, and one that nothing could be scored in.
# movie_id: (title, mean V, A, D, std (all labels), opening offset, trend per hour)
_PLANTED_MOVIES = {
    "dark_tense_1": ("Night Pursuit", 0.15, 0.80, 0.60, 0.05, 0.02, 0.10),
    "dark_tense_2": ("The Chase", 0.18, 0.78, 0.62, 0.06, 0.03, 0.12),
    "sad_calm_1": ("Grey Morning", 0.15, 0.20, 0.30, 0.04, 0.01, -0.05),
    "sad_calm_2": ("Letters", 0.20, 0.25, 0.25, 0.05, 0.02, -0.04),
    "happy_lively": ("Summer Run", 0.90, 0.80, 0.70, 0.05, 0.02, 0.05),
    "happy_calm": ("Garden", 0.85, 0.15, 0.50, 0.04, 0.01, 0.00),
}
_UNSCORED = "silent_film"
_PROVENANCE = {
    "model": "valence=mfcc_ridge.valence; arousal=mfcc_ridge.arousal; "
    "dominance=mfcc_ridge.dominance",
    "model_version": "untracked",
    "trained_on": "demo 0123abcd",
    "demo_model": True,
}
_LEXICON = {
    "sad": (0.10, 0.30, 0.20),
    "calm": (0.80, 0.10, 0.50),
    "tense": (0.20, 0.85, 0.50),
    "dark": (0.20, 0.45, 0.60),
    "happy": (0.95, 0.70, 0.70),
    "melancholic": (0.24, 0.26, 0.32),
    "melancholy": (0.25, 0.22, 0.28),
    "laid-back": (0.80, 0.12, 0.48),
}


def _planted_catalogue_table() -> pd.DataFrame:
    """The catalogue table as the inference pipeline writes it (the same columns)."""
    rows = []
    for movie_id, (title, v, a, d, std, opening, trend) in _PLANTED_MOVIES.items():
        row = {"movie_id": movie_id, "title": title, "n_tracks": 3, "n_scored": 3,
               "n_failed": 0, "n_out_of_domain": 0, "scored_s": 540.0, **_PROVENANCE}  # fmt: skip
        for label, mean in zip(VAD_LABELS, (v, a, d), strict=True):
            row |= {f"{label}_mean": mean, f"{label}_std": std,
                    f"{label}_opening": mean - opening, f"{label}_closing": mean + opening,
                    f"{label}_trend_per_hour": trend}  # fmt: skip
        rows.append(row)
    unscored = {"n_tracks": 1, "n_scored": 0, "n_failed": 1, "n_out_of_domain": pd.NA}
    rows.append({"movie_id": _UNSCORED, "title": "Silent", **unscored, "scored_s": 0.0,
                 **_PROVENANCE})  # fmt: skip
    table = pd.DataFrame(rows)
    table["n_out_of_domain"] = table["n_out_of_domain"].astype("Int64")
    return table


def _planted_track_vad() -> pd.DataFrame:
    """Three tracks per movie around its mean (one of them the movie's mood exactly), and the
    unscored movie's unreadable track."""
    rows = []
    for movie_id, (title, v, a, d, std, *_) in _PLANTED_MOVIES.items():
        for position, offset in enumerate((-std, 0.0, std), start=1):
            rows.append({"movie_id": movie_id, "title": title, "position": position,
                         "track": f"{movie_id} {position}", "path": f"/m/{movie_id}/{position}.wav",
                         "status": "ok", "error": "", "duration_s": 180.0, "n_windows": 36,
                         "valence": v + offset, "arousal": a + offset, "dominance": d,
                         "domain_score": 0.5, "out_of_domain": False, **_PROVENANCE})  # fmt: skip
    rows.append({"movie_id": _UNSCORED, "title": "Silent", "position": 1, "track": "silence",
                 "path": "/m/silent.wav", "status": "error", "error": "silent", "duration_s": 0.0,
                 "n_windows": 0, **dict.fromkeys(VAD_LABELS, np.nan), "domain_score": np.nan,
                 "out_of_domain": pd.NA, **_PROVENANCE})  # fmt: skip
    table = pd.DataFrame(rows)
    return table.astype({"out_of_domain": "boolean"})


def _planted_vad_lexicon() -> pd.DataFrame:
    """The test lexicon as dataset_creation's ``vad_lexicon`` holds it (normalised words)."""
    return pd.DataFrame(
        [(word.replace("-", " "), *vad) for word, vad in _LEXICON.items()],
        columns=["word", *VAD_LABELS],
    )


@dataclass(frozen=True)
class PlantedCatalogue:
    catalogue: pd.DataFrame  # catalogue_table, as the inference pipeline writes it
    track_vad: pd.DataFrame  # three tracks per movie around its mean, one unreadable track
    lexicon: pd.DataFrame  # vad_lexicon, as dataset_creation writes it
    unscored: str  # the movie with no scored track


@pytest.fixture
def planted_catalogue() -> PlantedCatalogue:
    """The search tests' catalogue with planted moods (fresh tables per test)."""
    return PlantedCatalogue(
        _planted_catalogue_table(), _planted_track_vad(), _planted_vad_lexicon(), _UNSCORED
    )
