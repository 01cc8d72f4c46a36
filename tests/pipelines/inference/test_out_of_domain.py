"""Every scored track says how far it lies from the corpus its models were trained on: the
flag reaches every inference output and the profile plot, a reference of another corpus is
never used, and on real audio speech is flagged against a reference fitted on real music."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from soundtrack_emotion.core.audio import decode
from soundtrack_emotion.core.out_of_domain import block_rows, feature_blocks, fit_domain_reference
from soundtrack_emotion.core.profile_svg import movie_profile_svg
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets import DomainReferenceDataset, DomainReferencesDataset
from soundtrack_emotion.pipelines.inference.nodes import (
    IDENTITY_COLUMNS,
    MODEL_COLUMNS,
    build_movie_profile,
    collect_vad_timelines,
    model_key,
    predict_vad_timelines,
)
from soundtrack_emotion.pipelines.inference.track import row_seconds

from .conftest import _with_model_hashes as with_model_hashes

FRAME = (43, 13)
CORPUS = "corpus-of-tones"
NODE_PARAMS = {"hop_seconds": 1.0, "batch_size": 4, "waveform_points": 50}
ROOT = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("SOUNDTRACK_EMOTION_SHARED") or ROOT.parent / "shared")


def _chosen(corpus: str, kind: str = "real") -> pd.DataFrame:
    rows = [(label, "mfcc", "ridge", label, 0, 0.01, np.nan, f"mfcc_ridge.{label}", "", kind,
             corpus, "") for label in VAD_LABELS]  # fmt: skip
    identity = [c for c in IDENTITY_COLUMNS if c != "model_sha256"]  # added when scored
    return pd.DataFrame(rows, columns=[*MODEL_COLUMNS, *identity])


def _mfcc(path: Path, extraction) -> np.ndarray:
    audio = decode(
        str(path),
        sample_rates=[extraction.mfcc.sample_rate],
        min_seconds=extraction.min_seconds,
        silence_db=extraction.silence_db,
        quality=extraction.resample_quality,
    )
    return extraction.mfcc.compute(audio[extraction.mfcc.sample_rate]).rows


def _reference(matrices: dict[str, list[np.ndarray]], extraction, corpus: str):
    rows = block_rows(row_seconds("mfcc", extraction))

    def chunks(songs):
        for i, matrix in enumerate(songs):
            blocks = feature_blocks(matrix, rows_per_block=rows)
            yield np.full(len(blocks), str(i)), blocks

    return fit_domain_reference(
        chunks(matrices["train"]),
        chunks(matrices["validation"]),
        feature="mfcc",
        rows_per_block=rows,
        corpus_fingerprint=corpus,
    )


@pytest.fixture
def tones_corpus(tmp_path, write_tone, extraction):
    """A reference fitted on tones of 200-800 Hz (train) and other tones (validation)."""
    freqs = {"train": np.linspace(200, 800, 24), "validation": np.linspace(215, 785, 12)}
    matrices = {
        split: [_mfcc(write_tone(tmp_path / f"corpus/{split}{i}.wav", 6.0, freq=f), extraction)
                for i, f in enumerate(values)]
        for split, values in freqs.items()
    }  # fmt: skip
    reference = _reference(matrices, extraction, CORPUS)
    DomainReferenceDataset(filepath=str(tmp_path / "domain/mfcc.npz")).save(reference)
    return DomainReferencesDataset(path=str(tmp_path / "domain")).load()


@pytest.fixture
def album(tmp_path, write_tone):
    """A tone like the corpus's, and white noise."""
    tone = write_tone(tmp_path / "album/tone.wav", 6.0, freq=500.0)
    noise = tmp_path / "album/noise.wav"
    sf.write(noise, np.random.default_rng(0).uniform(-0.5, 0.5, 6 * 22050).astype(np.float32),
             22050)  # fmt: skip
    return pd.DataFrame(
        {"position": [1, 2], "track": ["tone", "noise"], "path": [str(tone), str(noise)]}
    )


def _score(album, chosen, references, models, as_trained_models, extraction_params, cache,
           **where):  # fmt: skip
    from soundtrack_emotion.datasets import TrackCacheDataset

    dataset = TrackCacheDataset(path=str(cache))
    trained_models = as_trained_models(models)
    for chunk in predict_vad_timelines(
        album,
        with_model_hashes(chosen, trained_models),
        **NODE_PARAMS,
        feature_extraction=extraction_params,
        trained_models=trained_models,
        existing_results=dataset.load(),
        domain_references=references,
    ):
        dataset.save(chunk)
    where = where or {"audio_path": "album"}
    return collect_vad_timelines(album, dataset.load(), chosen, **where)


@pytest.fixture
def models(tiny_model):
    return {model_key("mfcc", "ridge", label): tiny_model(FRAME) for label in VAD_LABELS}


def test_a_track_unlike_the_corpus_is_flagged_in_every_output(
    album, tones_corpus, models, as_trained_models, extraction_params, tmp_path
):
    scoring = (models, as_trained_models, extraction_params, tmp_path / "cache")
    timelines, track_vad, _ = _score(album, _chosen(CORPUS), tones_corpus, *scoring)

    flags = dict(zip(track_vad["track"], track_vad["out_of_domain"], strict=True))
    assert flags == {"tone": False, "noise": True}
    scores = dict(zip(track_vad["track"], track_vad["domain_score"], strict=True))
    assert scores["tone"] < 1 < scores["noise"]
    assert str(track_vad["out_of_domain"].dtype) == "boolean"
    per_row = timelines.groupby("track")["out_of_domain"].agg(set).to_dict()
    assert per_row == {"tone": {False}, "noise": {True}}

    profile, arc = build_movie_profile(track_vad)
    assert profile["n_out_of_domain"].tolist() == [1, 1, 1]
    assert arc.set_index("track")["out_of_domain"].to_dict() == {"tone": False, "noise": True}
    svg = movie_profile_svg(arc, profile, audio_path="album", title=None)
    assert "(2 tracks, " in svg and ", 1 out of domain)" in svg
    assert "noise: valence" in svg and "out of domain (unlike the training music" in svg


def test_a_reference_of_another_corpus_is_not_used(
    album, tones_corpus, models, as_trained_models, extraction_params, tmp_path, caplog
):
    scoring = (models, as_trained_models, extraction_params, tmp_path / "cache")
    with caplog.at_level(logging.WARNING):
        _, track_vad, _ = _score(album, _chosen("another-corpus"), tones_corpus, *scoring)
    assert track_vad["out_of_domain"].isna().all()
    assert track_vad["domain_score"].isna().all()
    assert "fitted on corpus corpus-of-tones, the models on another-corpus" in caplog.text
    profile, _ = build_movie_profile(track_vad)
    assert profile["n_out_of_domain"].isna().all()


def test_a_demo_model_scoring_a_catalogue_is_warned_about_and_flagged(
    album, tones_corpus, models, as_trained_models, extraction_params, tmp_path, caplog
):
    scoring = (models, as_trained_models, extraction_params, tmp_path / "cache")
    with caplog.at_level(logging.WARNING):
        _, track_vad, _ = _score(album, _chosen(CORPUS, kind="demo"), tones_corpus, *scoring,
                                 audio_path="", catalogue="movies/")  # fmt: skip
    assert track_vad["demo_model"].all()
    assert "movies/ scored with a model trained on the synthetic DEMO corpus" in caplog.text


def test_a_new_reference_rescores_the_tracks(
    album, tones_corpus, models, as_trained_models, extraction_params, tmp_path, write_tone,
    extraction,
):  # fmt: skip
    cache = tmp_path / "cache"
    _score(album, _chosen(CORPUS), tones_corpus, models, as_trained_models, extraction_params,
           cache)  # fmt: skip
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    wider = [_mfcc(write_tone(tmp_path / f"wide/{i}.wav", 6.0, freq=f), extraction)
             for i, f in enumerate(np.linspace(100, 2000, 24))]  # fmt: skip
    reference = _reference({"train": wider, "validation": wider[::3]}, extraction, CORPUS)
    DomainReferenceDataset(filepath=str(tmp_path / "domain/mfcc.npz")).save(reference)
    references = DomainReferencesDataset(path=str(tmp_path / "domain")).load()

    _score(album, _chosen(CORPUS), references, models, as_trained_models, extraction_params,
           cache)  # fmt: skip

    after = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    assert set(after) == set(before) and all(after[k] != before[k] for k in before)


# --------------------------------------------------------------------- real audio (../shared)

# Real music, real labels: a reference fitted on its MFCCs as the modelling pipeline does.
REAL_MUSIC = SHARED / "real_music_dev"
CLIPS = SHARED / "audio/librosa_examples"
# Every 4th track (in id order) calibrates the threshold; at most this many tracks are read.
REAL_TRACKS = 120


@pytest.fixture(scope="module")
def real_music_reference():
    from soundtrack_emotion.runtime.feature_settings import ExtractionParams

    labels = REAL_MUSIC / "labels.csv"
    if not labels.is_file() or not CLIPS.is_dir():
        pytest.skip(f"real audio absent: {REAL_MUSIC} / {CLIPS} (no ../shared here)")
    import yaml

    params = yaml.safe_load((ROOT / "conf/base/parameters_feature_extraction.yml").read_text())
    extraction = ExtractionParams.from_dict(params["feature_extraction"])
    table = pd.read_csv(labels).sort_values("track_id").head(REAL_TRACKS)
    matrices = [_mfcc(REAL_MUSIC / path, extraction) for path in table["audio"]]
    split = {"train": [m for i, m in enumerate(matrices) if i % 4],
             "validation": matrices[::4]}  # fmt: skip
    return _reference(split, extraction, "real-music-dev"), extraction


def _clip_score(reference, extraction, stem: str) -> float:
    return reference.score(_mfcc(CLIPS / f"{stem}.ogg", extraction))


def test_speech_is_flagged_against_a_reference_of_real_music(real_music_reference):
    reference, extraction = real_music_reference
    assert _clip_score(reference, extraction, "5703-47212-0000") > 1  # LibriSpeech, read speech
    music = ["Kevin_MacLeod_-_Vibe_Ace", "Karissa_Hobbs_-_Lets_Go_Fishin",
             "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra)"]  # fmt: skip
    assert all(_clip_score(reference, extraction, stem) < 1 for stem in music)


@pytest.mark.xfail(
    strict=True,
    reason="measured: the humpback's song lies inside the real-music corpus's distribution "
    "(MFCC score 0.62, MusiCNN 0.90 of the threshold): long tonal calls read as ambient music "
    "to both embeddings; an XPASS means the detector changed, so revisit the closing note",
)
def test_the_whale_recording_is_flagged_against_a_reference_of_real_music(real_music_reference):
    reference, extraction = real_music_reference
    assert _clip_score(reference, extraction, "glacier-bay-humpback") > 1
