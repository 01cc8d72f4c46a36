"""Resumable inference: finished tracks survive a run that dies, a rerun skips them, a changed
file, model or parameter scores exactly the affected tracks again, and the cache never holds a
half-written record."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets import (
    CachedTrack,
    SourceStamp,
    StreamedTableDataset,
    TrackCacheDataset,
)
from soundtrack_emotion.pipelines.inference import create_pipeline, scoring
from soundtrack_emotion.pipelines.inference.nodes import (
    MODEL_COLUMNS,
    model_key,
    track_cache_key,
)
from soundtrack_emotion.pipelines.inference.track import TimelineSettings

from .conftest import _with_model_hashes as with_model_hashes

FRAME = (43, 13)
NODE_PARAMS = {"hop_seconds": 1.0, "batch_size": 4, "waveform_points": 50}
CHOSEN = pd.DataFrame(
    [(label, "mfcc", "cnn", label, 0, 0.01, np.nan) for label in VAD_LABELS],
    columns=list(MODEL_COLUMNS),
)
SECONDS = {"a": 3.0, "b": 3.5, "c": 2.5, "d": 4.0}
# The tables collect_vad_timelines streams, with their file format.
TABLES = {
    "vad_timelines": "parquet",
    "track_vad": "parquet",
    "inference_waveforms": "parquet",
    "vad_timelines_csv": "csv",
    "track_vad_csv": "csv",
}


@pytest.fixture
def album(tmp_path, write_tone) -> pd.DataFrame:
    """Five files in album order, the third one corrupt."""
    folder = tmp_path / "album"
    paths = [write_tone(folder / f"{name}.wav", seconds) for name, seconds in SECONDS.items()]
    corrupt = folder / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x10\x00\x00WAVEfmt " + bytes(200))
    paths.insert(2, corrupt)
    return pd.DataFrame(
        {"position": range(1, 6), "track": [p.stem for p in paths], "path": [str(p) for p in paths]}
    )


@pytest.fixture
def models(tiny_model) -> dict:
    return {
        model_key("mfcc", "cnn", label): tiny_model(FRAME, value=value)
        for label, value in zip(VAD_LABELS, (0.2, 0.5, 0.8), strict=True)
    }


class ScoringLog:
    """Tracks handed to ``infer_track`` (by file stem); ``fail_at = k`` makes the k-th call
    raise a non-recoverable error, as a crash part-way through a run would."""

    def __init__(self) -> None:
        self.stems: list[str] = []
        self.fail_at: int | None = None

    def take(self) -> list[str]:
        stems, self.stems = self.stems, []
        return stems


@pytest.fixture
def scored(monkeypatch) -> ScoringLog:
    log = ScoringLog()
    real = scoring.infer_track

    def counting(path, **kwargs):
        log.stems.append(Path(path).stem)
        if log.fail_at is not None and len(log.stems) == log.fail_at:
            raise RuntimeError("injected crash")
        return real(path, **kwargs)

    monkeypatch.setattr(scoring, "infer_track", counting)
    return log


def _kedro_run(cache: Path, tracks, trained_models, extraction_params, **params):
    """The two inference nodes through Kedro's runner, the cache catalogued as in the project."""
    pipeline = create_pipeline(features=("mfcc",)).only_nodes(
        "predict_vad_timelines", "collect_vad_timelines"
    )
    tables = cache.parent / f"{cache.name}_tables"
    catalog = DataCatalog(
        {
            "inference_results": TrackCacheDataset(path=str(cache)),
            "existing_inference_results": TrackCacheDataset(path=str(cache)),
            **{
                name: StreamedTableDataset(
                    filepath=str(tables / f"{name}.{suffix}"), file_format=suffix
                )
                for name, suffix in TABLES.items()
            },
        }
    )
    values = {
        "inference_tracks": tracks,
        "inference_models": with_model_hashes(CHOSEN, trained_models),
        "trained_models": trained_models,
        "domain_references": {},
        "params:feature_extraction": extraction_params,
        "params:compute": {"backend": "processes"},
        "params:inference.audio_path": "",
        "params:inference.catalogue": "",
        "params:inference.precision": "float32",
        **{f"params:inference.{k}": v for k, v in (NODE_PARAMS | params).items()},
    }
    for name in pipeline.inputs() - set(catalog.keys()):
        catalog[name] = MemoryDataset(values[name], copy_mode="assign")
    SequentialRunner().run(pipeline, catalog)
    return tuple(catalog.load(n) for n in ("vad_timelines", "track_vad", "inference_waveforms"))


def _cache_files(cache: Path) -> dict[str, int]:
    """Every file in the cache folder (temporary ones included) -> mtime_ns."""
    return {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} if cache.is_dir() else {}


def _record_name(tracks: pd.DataFrame, stem: str) -> str:
    path = tracks.loc[tracks["track"] == stem, "path"].item()
    return f"{track_cache_key(path)}.npz"


def test_an_interrupted_run_resumes_without_rescoring_and_matches_an_uninterrupted_run(
    tmp_path, album, models, extraction_params, scored, caplog, as_trained_models
):
    trained_models = as_trained_models(models)
    cache = tmp_path / "cache"
    scored.fail_at = 4  # the 4th track crashes the run: a and b are scored, corrupt recorded

    with pytest.raises(RuntimeError, match="injected crash"):
        _kedro_run(cache, album, trained_models, extraction_params)

    assert scored.take() == ["a", "b", "corrupt", "c"]
    done = _cache_files(cache)
    assert sorted(done) == sorted(_record_name(album, s) for s in ("a", "b", "corrupt"))

    scored.fail_at = None
    with caplog.at_level(logging.INFO, logger=scoring.__name__):
        resumed = _kedro_run(cache, album, trained_models, extraction_params)

    # The error record is tried again; the finished tracks are neither scored nor rewritten.
    assert scored.take() == ["corrupt", "c", "d"]
    assert "3 of 5 tracks to score, 2 skipped" in caplog.text
    after = _cache_files(cache)
    for stem in ("a", "b"):
        assert after[_record_name(album, stem)] == done[_record_name(album, stem)]
    assert len(after) == 5

    uninterrupted = _kedro_run(tmp_path / "fresh", album, trained_models, extraction_params)
    assert scored.take() == ["a", "b", "corrupt", "c", "d"]
    for got, expected in zip(resumed, uninterrupted, strict=True):
        pd.testing.assert_frame_equal(got, expected)
    timelines, track_vad, _ = resumed
    assert track_vad["status"].tolist() == ["ok", "ok", "error", "ok", "ok"]
    assert "corrupt" in track_vad.loc[2, "error"]

    # The cache round trip is lossless: the timeline is the one infer_track computed.
    direct = scoring.infer_track(
        album.loc[3, "path"],
        track="c",
        models=scoring.label_models_for(CHOSEN, models),
        extraction=scoring.ExtractionParams.from_dict(extraction_params),
        timeline=TimelineSettings(**NODE_PARAMS),
    )
    pd.testing.assert_frame_equal(
        timelines.loc[timelines["track"] == "c", list(direct.timeline.columns)].reset_index(
            drop=True
        ),
        direct.timeline,
    )
    assert track_vad.loc[3, "duration_s"] == direct.summary["duration_s"]


def _rewrite_c(ctx):
    ctx["write_tone"](Path(ctx["album"].loc[3, "path"]), 2.0)


def _retrain_valence(ctx):
    dense = ctx["models"]["mfcc__cnn__valence"].layers[-1]
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, bias + 0.4])


CHANGES = {
    # change -> (what it does, tracks scored again besides the unreadable one)
    "nothing": (lambda ctx: None, []),
    "batch_size (speed only)": (lambda ctx: ctx["params"].update(batch_size=3), []),
    "one file": (_rewrite_c, ["c"]),
    "hop_seconds": (lambda ctx: ctx["params"].update(hop_seconds=1.5), ["a", "b", "c", "d"]),
    "a model's weights": (_retrain_valence, ["a", "b", "c", "d"]),
    "feature_extraction": (
        lambda ctx: ctx["extraction_params"]["audio"].update(silence_db=-70.0),
        ["a", "b", "c", "d"],
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_rerun_scores_exactly_the_tracks_its_changes_affect(
    tmp_path,
    album,
    models,
    extraction_params,
    write_tone,
    scored,
    run_inference,
    as_trained_models,
    change,
):
    ctx = {
        "album": album,
        "models": models,
        "extraction_params": extraction_params,
        "write_tone": write_tone,
        "params": dict(NODE_PARAMS),
    }
    cache = tmp_path / "cache"
    trained_models = as_trained_models(models)
    run_inference(
        album,
        CHOSEN,
        cache,
        feature_extraction=extraction_params,
        trained_models=trained_models,
        **ctx["params"],
    )
    scored.take()
    before = _cache_files(cache)
    apply, rescored = CHANGES[change]

    apply(ctx)
    timelines, track_vad, _ = run_inference(
        album,
        CHOSEN,
        cache,
        feature_extraction=ctx["extraction_params"],
        trained_models=as_trained_models(ctx["models"]),  # the files as they are now
        **ctx["params"],
    )

    assert sorted(scored.take()) == sorted(["corrupt", *rescored])
    after = _cache_files(cache)
    untouched = {s for s in SECONDS if s not in rescored}
    kept = {s for s in SECONDS if after[_record_name(album, s)] == before[_record_name(album, s)]}
    assert kept == untouched
    ok = track_vad[track_vad["status"] == "ok"].set_index("track")
    durations = SECONDS | ({"c": 2.0} if change == "one file" else {})
    assert ok["duration_s"].to_dict() == pytest.approx(durations)
    valence = 0.6 if change == "a model's weights" else 0.2
    assert ok["valence"].tolist() == pytest.approx([valence] * 4)
    assert timelines.groupby("track")["end_s"].max().to_dict() == pytest.approx(durations)


def test_a_file_listed_twice_is_scored_once(
    tmp_path, album, models, extraction_params, scored, run_inference, as_trained_models
):
    twice = pd.concat([album.iloc[:1], album.iloc[:1].assign(position=2, track="a (2)")])

    timelines, track_vad, waveforms = run_inference(
        twice,
        CHOSEN,
        tmp_path / "cache",
        feature_extraction=extraction_params,
        trained_models=as_trained_models(models),
        **NODE_PARAMS,
    )

    assert scored.take() == ["a"]
    assert track_vad["track"].tolist() == ["a", "a (2)"]
    assert timelines.groupby("track").size().to_dict() == {"a": 3, "a (2)": 3}
    assert set(waveforms["track"]) == {"a", "a (2)"}


# ------------------------------------------------------------------------- the cache dataset


def _record(key: str, source: SourceStamp | None, **kwargs) -> CachedTrack:
    arrays = {
        "timeline.start_s": np.array([0.0, 0.1 + 0.2]),
        "waveform.low": np.array([-0.25, np.float32(1 / 3)], np.float32),
    }
    return CachedTrack(
        key=key,
        fingerprint=kwargs.pop("fingerprint", "f1"),
        status=kwargs.pop("status", "ok"),
        source=source,
        summary={"status": "ok", "duration_s": 1 / 3, "missing": float("nan")},
        arrays=arrays,
        **kwargs,
    )


def test_the_cache_keeps_every_value_and_dtype_and_knows_what_is_current(tmp_path):
    song = tmp_path / "song.wav"
    song.write_bytes(b"1234")
    stamp = SourceStamp.of(song)
    dataset = TrackCacheDataset(path=str(tmp_path / "cache"))
    dataset.save([_record("song-1", stamp), _record("bad-2", stamp, status="error")])

    cache = dataset.load()
    record = cache.get("song-1")
    assert cache.keys() == ["bad-2", "song-1"]
    assert record.arrays["timeline.start_s"].tolist() == [0.0, 0.1 + 0.2]
    assert record.arrays["waveform.low"].dtype == np.float32
    assert record.summary["duration_s"] == 1 / 3 and np.isnan(record.summary["missing"])
    assert record.source == stamp
    assert cache.get("absent") is None

    assert cache.is_current("song-1", fingerprint="f1", source=stamp)
    assert not cache.is_current("song-1", fingerprint="f2", source=stamp)
    assert not cache.is_current("bad-2", fingerprint="f1", source=stamp)  # errors are retried
    assert not cache.is_current("absent", fingerprint="f1", source=stamp)
    song.write_bytes(b"12345")
    assert not cache.is_current("song-1", fingerprint="f1", source=SourceStamp.of(song))
    assert not cache.is_current("song-1", fingerprint="f1", source=None)  # file gone


def test_a_write_that_dies_leaves_no_half_written_record(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    dataset = TrackCacheDataset(path=str(cache))
    dataset.save([_record("kept-1", None)])
    kept = (cache / "kept-1.npz").read_bytes()

    def killed(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        dataset.save([_record("kept-1", None, fingerprint="f2"), _record("new-2", None)])
    monkeypatch.undo()

    assert sorted(p.name for p in cache.iterdir()) == ["kept-1.npz"]
    assert (cache / "kept-1.npz").read_bytes() == kept

    # What a SIGKILL between write and rename leaves: a hidden temporary file. It is never
    # read as a record and the next run's first save removes it.
    leftover = cache / ".new-2.npz.x1y2z3.partial"
    leftover.write_bytes(b"half a rec")
    assert TrackCacheDataset(path=str(cache)).load().keys() == ["kept-1"]
    TrackCacheDataset(path=str(cache)).save({})
    assert sorted(p.name for p in cache.iterdir()) == ["kept-1.npz"]
