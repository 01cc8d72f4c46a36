"""Hand-made audio files and tiny Keras models for the inference tests."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SAMPLE_RATE = 22050


def _write_tone(path: Path, seconds: float, *, sr: int = SAMPLE_RATE, freq: float = 440.0) -> Path:
    t = np.arange(round(seconds * sr)) / sr
    tone = 0.5 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone.astype(np.float32), sr)
    return path


@pytest.fixture
def write_tone():
    """``write_tone(path, seconds, sr=22050)``: a mono tone file of exactly that length."""
    return _write_tone


def _tiny_model(frame_shape: tuple[int, int], outputs: int = 1, value: float = 0.5):
    """A real Keras model ``[b, T, F] -> [b, outputs]`` whose output is ``value`` for every
    input (zero kernel, constant bias), so a test knows which model produced a number."""
    import keras

    inputs = keras.Input(shape=frame_shape, name="frames")
    pooled = keras.layers.GlobalAveragePooling1D()(inputs)
    out = keras.layers.Dense(
        outputs,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(value),
    )(pooled)
    return keras.Model(inputs, out)


@pytest.fixture
def tiny_model():
    return _tiny_model


PROJECT_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def extraction_params() -> dict:
    """The project's feature_extraction parameters (conf/base), accepting tracks from 0.5 s so
    that short hand-made files reach the framing step, in float32 on any CPU."""
    import yaml

    text = (PROJECT_ROOT / "conf/base/parameters_feature_extraction.yml").read_text()
    params = yaml.safe_load(text)["feature_extraction"]
    params["workers"] = 1
    params["precision"] = "float32"
    params["framing"]["short_track"] = {"policy": "pad", "min_seconds": 0.5}
    return params


@pytest.fixture
def extraction(extraction_params):
    from soundtrack_emotion.runtime.feature_settings import ExtractionParams

    return ExtractionParams.from_dict(extraction_params)


def _vggish_standin(waveform: np.ndarray) -> np.ndarray:
    """Tests only, never the model: VGGish's signature (1-D float32 16 kHz waveform -> float32
    [N, 128], one row per whole 0.96 s window, (0, 128) under 0.96 s); each row is the window's
    RMS level times 1..128."""
    from soundtrack_emotion.core.embeddings.vggish import VGGISH_WINDOW_SAMPLES, vggish_windows

    waveform = np.asarray(waveform, dtype=np.float32)
    assert waveform.ndim == 1
    n = vggish_windows(len(waveform))
    windows = waveform[: n * VGGISH_WINDOW_SAMPLES].reshape(n, VGGISH_WINDOW_SAMPLES)
    rms = np.sqrt(np.mean(windows**2, axis=1, keepdims=True))
    return (rms * np.arange(1, 129, dtype=np.float32)).astype(np.float32)


@pytest.fixture
def vggish_standin():
    return _vggish_standin


def _run_inference(tracks, chosen, cache_dir: Path, **kwargs):
    """Both inference nodes as Kedro runs them: every chunk ``predict_vad_timelines`` yields
    is saved to a track cache in ``cache_dir`` before the next one is computed, then
    ``collect_vad_timelines`` assembles the tables from it. ``chosen`` without
    ``model_sha256`` gets the hashes of ``trained_models``' files, as ``model_metrics`` records
    them for the models it lists."""
    from soundtrack_emotion.datasets import TrackCacheDataset
    from soundtrack_emotion.pipelines.inference.nodes import (
        collect_vad_timelines,
        predict_vad_timelines,
    )

    if "model_sha256" not in chosen and "trained_models" in kwargs:
        chosen = _with_model_hashes(chosen, kwargs["trained_models"])
    cache = TrackCacheDataset(path=str(cache_dir))
    for chunk in predict_vad_timelines(tracks, chosen, existing_results=cache.load(), **kwargs):
        cache.save(chunk)
    return collect_vad_timelines(tracks, cache.load())


def _with_model_hashes(chosen, trained_models: dict):
    """``chosen`` with each model's ``model_sha256``: the hash of its file in
    ``trained_models`` (as ``model_metrics`` records it when the model is trained)."""
    from soundtrack_emotion.core.vocabulary import model_partition

    hashes = {}
    for row in chosen.itertuples(index=False):
        partition = model_partition(row.feature, row.network, row.target)
        if partition in trained_models and partition not in hashes:
            hashes[partition] = trained_models[partition]().sha256
    return chosen.assign(model_sha256=[
        hashes.get(model_partition(r.feature, r.network, r.target), "")
        for r in chosen.itertuples(index=False)
    ])  # fmt: skip


def _as_trained_models(models: dict) -> dict:
    """``trained_models`` as its dataset loads it: partition id -> loader of the model's file
    (a ``ModelFile``), from ``{model_key: model}``."""
    from soundtrack_emotion.core.model_files import ModelFile, serialise_model
    from soundtrack_emotion.core.vocabulary import model_partition
    from soundtrack_emotion.pipelines.inference.nodes import split_model_key

    files = {
        model_partition(*split_model_key(key)): ModelFile(
            path=f"{model_partition(*split_model_key(key))}.keras", content=serialise_model(model)
        )
        for key, model in models.items()
    }
    return {partition: (lambda stored=stored: stored) for partition, stored in files.items()}


@pytest.fixture
def with_model_hashes():
    """``with_model_hashes(chosen, trained_models)``: the chosen models' recorded hashes."""
    return _with_model_hashes


@pytest.fixture
def as_trained_models():
    """``as_trained_models({model_key: keras_model})`` -> the ``trained_models`` mapping."""
    return _as_trained_models


@pytest.fixture
def run_inference():
    """``run_inference(tracks, chosen, cache_dir, **node_kwargs)`` -> (vad_timelines,
    track_vad, inference_waveforms)."""
    return _run_inference


def _catalogue_outputs(movies: list[dict], *, intervals: bool = False, demo: bool = True):
    """A catalogue run's outputs as the page node gets them, from ``movies``: each
    ``{"movie_id", "title", "year", "tracks": [(track, duration_s, v, a, d, status,
    out_of_domain), ...]}`` (status ``error``: unreadable, VAD ignored). ``intervals`` adds
    ``{label}_low/_high`` to the tracks (value ± 0.1, ``interval_level`` 0.9) and
    ``{label}_mean_low/_high`` to the catalogue table (mean ± 0.05). Returns
    ``(catalogue_table, movie_track_vad, movie_arcs)``, the partitioned ones as
    ``{movie_id: loader}``."""
    import pandas as pd

    from soundtrack_emotion.core.vocabulary import VAD_LABELS
    from soundtrack_emotion.pipelines.inference.catalogue import build_catalogue_table
    from soundtrack_emotion.pipelines.inference.models import MODEL_COLUMNS
    from soundtrack_emotion.pipelines.inference.profile import build_movie_profile

    chosen = pd.DataFrame(
        [(label, "mfcc", "ridge", label, 0, 0.1, np.nan) for label in VAD_LABELS],
        columns=list(MODEL_COLUMNS),
    ).assign(
        model=[f"mfcc_ridge.{label}" for label in VAD_LABELS],
        model_version="untracked",
        corpus_kind="demo" if demo else "real",
        corpus_fingerprint="abc123",
        source="",
    )
    listing, track_vad, profiles, arcs = [], {}, {}, {}
    for movie in movies:
        rows = []
        for position, (track, seconds, v, a, d, status, flag) in enumerate(movie["tracks"], 1):
            failed = status == "error"
            row = {"movie_id": movie["movie_id"], "title": movie["title"],
                   "position": position, "track": track, "path": f"/music/{track}.flac",
                   "status": status, "error": "not audio: no decoder" if failed else "",
                   "duration_s": float("nan") if failed else seconds,
                   "n_windows": 0 if failed else max(1, round(seconds / 5)),
                   "valence": float("nan") if failed else v,
                   "arousal": float("nan") if failed else a,
                   "dominance": float("nan") if failed else d,
                   "domain_score": float("nan") if flag is None else (1.4 if flag else 0.5),
                   "out_of_domain": flag}  # fmt: skip
            if intervals:
                for label in VAD_LABELS:
                    row[f"{label}_low"] = row[label] - 0.1
                    row[f"{label}_high"] = row[label] + 0.1
                row["interval_level"] = 0.9
            rows.append(row)
            listing.append({"movie_id": movie["movie_id"], "title": movie["title"],
                            "position": position, "track": track, "path": row["path"],
                            "year": movie.get("year"), "genre": movie.get("genre")})  # fmt: skip
        table = pd.DataFrame(rows).assign(
            out_of_domain=lambda t: t["out_of_domain"].astype("boolean"),
            model="; ".join(f"{label}=mfcc_ridge.{label}" for label in VAD_LABELS),
            model_version="untracked",
            trained_on="demo abc123" if demo else "real abc123",
            demo_model=demo,
        )
        profile, arc = build_movie_profile(table)
        key = movie["movie_id"]
        track_vad[key] = lambda table=table: table
        profiles[key] = lambda profile=profile: profile
        arcs[key] = lambda arc=arc: arc
    inference_tracks = pd.DataFrame(
        listing, columns=["movie_id", "title", "position", "track", "path", "year", "genre"]
    )
    digests = {movie["movie_id"]: "digest" for movie in movies}
    if movies:
        catalogue = build_catalogue_table(inference_tracks, profiles, track_vad, chosen, digests)
    else:
        catalogue = pd.DataFrame(columns=["movie_id", "title", "n_tracks", "model", "demo_model",
                                          *(f"{lb}_{s}" for lb in VAD_LABELS
                                            for s in ("mean", "std"))])  # fmt: skip
    if intervals and movies:
        for label in VAD_LABELS:
            catalogue[f"{label}_mean_low"] = catalogue[f"{label}_mean"] - 0.05
            catalogue[f"{label}_mean_high"] = catalogue[f"{label}_mean"] + 0.05
    return catalogue, track_vad, arcs


def _demo_like_movies(n_movies: int, *, seed: int = 3) -> list[dict]:
    """``n_movies`` movies of 3 to 14 tracks with moods spread over the VAD cube; one track in
    nine unreadable, one readable track in seven out of domain."""
    rng = np.random.default_rng(seed)
    genres = ["drama", "thriller", "animation", "sci-fi", "romance", "documentary"]
    words = ["Night", "Harbour", "Glass", "River", "Echo", "Summer", "Iron", "Paper", "Silent",
             "Orbit", "Garden", "Storm", "Velvet", "North", "Ember", "Tide"]  # fmt: skip
    movies = []
    for index in range(n_movies):
        centre = rng.uniform(0.2, 0.8, size=3)
        drift = rng.normal(0, 0.15, size=3)
        n_tracks = int(rng.integers(3, 15))
        tracks = []
        for position in range(n_tracks):
            t = position / max(n_tracks - 1, 1)
            v, a, d = np.clip(centre + drift * (t - 0.5) + rng.normal(0, 0.07, 3), 0, 1)
            status = "error" if rng.random() < 1 / 9 else "ok"
            flag = None if status == "error" else bool(rng.random() < 1 / 7)
            tracks.append((f"{position + 1:02d} {rng.choice(words)} {rng.choice(words)}",
                           float(rng.uniform(40, 300)), float(v), float(a), float(d), status,
                           flag))  # fmt: skip
        title = f"{rng.choice(words)} {rng.choice(words)}"
        movies.append({"movie_id": f"m{index:04d}", "title": title,
                       "year": int(rng.integers(1960, 2025)), "genre": str(rng.choice(genres)),
                       "tracks": tracks})  # fmt: skip
    return movies


@pytest.fixture(scope="session")
def catalogue_outputs():
    """``catalogue_outputs(movies, intervals=False, demo=True)`` -> (catalogue_table,
    movie_track_vad, movie_arcs) as the page node gets them (see ``_catalogue_outputs``)."""
    return _catalogue_outputs


@pytest.fixture(scope="session")
def demo_like_movies():
    """``demo_like_movies(n_movies, seed=3)``: movie specs for ``catalogue_outputs``."""
    return _demo_like_movies
