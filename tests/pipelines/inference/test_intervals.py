"""Prediction intervals through inference: the chosen model's half-widths, the bounds on
timelines and tracks, a movie mean's interval, the catalogue table and the figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.profile_svg import movie_profile_svg
from soundtrack_emotion.core.vad_plots import plot_vad_timeline
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets import TrackCacheDataset
from soundtrack_emotion.pipelines.inference.models import (
    INTERVAL_COLUMNS,
    MODEL_COLUMNS,
    model_key,
    select_inference_models,
)
from soundtrack_emotion.pipelines.inference.nodes import (
    build_movie_profile,
    collect_vad_timelines,
    predict_vad_timelines,
    stream_vad_tables,
)

from .conftest import _with_model_hashes as with_model_hashes

FRAME = (43, 13)


def _metrics(widths: dict[tuple[str, str, str], tuple[float, float]]) -> pd.DataFrame:
    """model_metrics rows of one-label models, ``(feature, network, label) -> (song 90 %
    half-width, frame 90 % half-width)``; the validation loss ranks them in this order."""
    rows = []
    for rank, ((feature, network, label), (song, frame)) in enumerate(widths.items()):
        for level, width in (("song", song), ("frame", frame)):
            rows.append({"feature": feature, "network": network, "target": label,
                         "label": label, "level": level, "best_val_loss": 0.01 * (rank + 1),
                         "halfwidth_80": width / 2, "halfwidth_90": width})  # fmt: skip
    return pd.DataFrame(rows)


def test_the_chosen_models_carry_their_half_widths_at_the_level():
    metrics = _metrics({
        ("mfcc", "ridge", "valence"): (0.1, 0.2),
        ("mfcc", "cnn", "valence"): (0.05, 0.1),  # worse on validation: not chosen
        ("mfcc", "ridge", "arousal"): (0.12, 0.25),
        ("mfcc", "ridge", "dominance"): (math.inf, 0.3),  # too few validation songs at 90 %
    })  # fmt: skip

    chosen = select_inference_models(metrics, "best", interval_level=0.9)
    assert list(chosen.columns[-3:]) == list(INTERVAL_COLUMNS)
    rows = chosen.set_index("label")
    assert rows.loc["valence", ["network", "song_halfwidth", "frame_halfwidth"]].tolist() == [
        "ridge", 0.1, 0.2]  # fmt: skip
    assert rows.loc["dominance", "song_halfwidth"] == math.inf
    assert (chosen["interval_level"] == 0.9).all()
    assert select_inference_models(metrics, "best", interval_level=0.8).set_index("label").loc[
        "arousal", "song_halfwidth"] == pytest.approx(0.06)  # fmt: skip
    # a level modelling did not calibrate, or a table from before intervals: no interval
    assert select_inference_models(metrics, "best", interval_level=0.95)["song_halfwidth"].isna(
        ).all()  # fmt: skip
    old = metrics.drop(columns=["halfwidth_80", "halfwidth_90"])
    assert select_inference_models(old, "best", interval_level=0.9)["frame_halfwidth"].isna().all()
    # without a level, the rows are as before
    assert list(select_inference_models(metrics, "best").columns[-3:]) != list(INTERVAL_COLUMNS)


def _chosen(widths=(0.1, 0.2, math.inf), frame_widths=(0.3, 0.3, 0.3)) -> pd.DataFrame:
    rows = [(label, "mfcc", "cnn", label, 0, 0.01, np.nan) for label in VAD_LABELS]
    return pd.DataFrame(rows, columns=list(MODEL_COLUMNS)).assign(
        interval_level=0.9, song_halfwidth=list(widths), frame_halfwidth=list(frame_widths)
    )


def test_timelines_and_tracks_carry_bounds_around_their_scores(
    tmp_path, write_tone, tiny_model, extraction_params, as_trained_models
):
    paths = [write_tone(tmp_path / "a.wav", 6.0), write_tone(tmp_path / "b.wav", 3.0)]
    tracks = pd.DataFrame({"position": [1, 2], "track": ["a", "b"],
                           "path": [str(p) for p in paths]})  # fmt: skip
    models = {
        model_key("mfcc", "cnn", label): tiny_model(FRAME, value=v)
        for label, v in zip(VAD_LABELS, (0.05, 0.5, 0.8), strict=True)
    }
    trained_models = as_trained_models(models)
    chosen = with_model_hashes(_chosen(), trained_models)
    cache = TrackCacheDataset(path=str(tmp_path / "cache"))
    for chunk in predict_vad_timelines(
        tracks, chosen, existing_results=cache.load(), hop_seconds=2.0, batch_size=4,
        waveform_points=50, feature_extraction=extraction_params, trained_models=trained_models,
    ):  # fmt: skip
        cache.save(chunk)

    timelines, track_vad, _ = collect_vad_timelines(tracks, cache.load(), chosen)

    for table in (timelines, track_vad):
        assert (table["interval_level"] == 0.9).all()
        for label in VAD_LABELS:
            low, value, high = (table[c].to_numpy() for c in
                                (f"{label}_low", label, f"{label}_high"))  # fmt: skip
            assert (low <= value + 1e-12).all() and (value <= high + 1e-12).all()
            assert ((low >= 0) & (high <= 1)).all()
    # tracks: the song-level half-width, cut to [0, 1]; an infinite one is the whole range
    np.testing.assert_allclose(track_vad[["valence_low", "valence_high"]], [[0.0, 0.15]] * 2,
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(track_vad[["arousal_low", "arousal_high"]], [[0.3, 0.7]] * 2,
                               atol=1e-6)  # fmt: skip
    assert (track_vad["dominance_low"] == 0).all() and (track_vad["dominance_high"] == 1).all()
    # timelines: each row is one frame's score, with the frame-level half-width
    np.testing.assert_allclose(timelines["arousal_high"] - timelines["arousal"], 0.3, atol=1e-6)
    # the catalogue-wide tables, streamed a track at a time, keep them
    streamed = list(stream_vad_tables(tracks, cache.load(), chosen, chunk_tracks=1))
    for part, whole in zip(zip(*streamed, strict=True), (timelines, track_vad), strict=False):
        pd.testing.assert_frame_equal(pd.concat([c.frame for c in part], ignore_index=True),
                                      whole.reset_index(drop=True))  # fmt: skip


@pytest.fixture
def album() -> pd.DataFrame:
    """Two readable tracks of 60 and 180 s with intervals, one unreadable."""
    return pd.DataFrame({
        "position": [1, 2, 3], "track": ["a", "broken", "b"], "path": ["1", "2", "3"],
        "status": ["ok", "error", "ok"], "error": ["", "corrupt", ""],
        "duration_s": [60.0, np.nan, 180.0], "n_windows": [12, 0, 36],
        "valence": [0.2, np.nan, 0.6], "arousal": [0.5, np.nan, 0.5],
        "dominance": [0.9, np.nan, 0.3],
        "domain_score": [0.5, np.nan, 1.5], "out_of_domain": [False, None, True],
        "valence_low": [0.1, np.nan, 0.5], "valence_high": [0.3, np.nan, 0.7],
        "arousal_low": [0.4, np.nan, 0.4], "arousal_high": [0.6, np.nan, 0.6],
        "dominance_low": [np.nan, np.nan, np.nan], "dominance_high": [np.nan, np.nan, np.nan],
        "interval_level": [0.9, 0.9, 0.9],
    })  # fmt: skip


def test_a_movie_mean_gets_the_duration_weighted_mean_of_its_tracks_bounds(album):
    profile, arc = build_movie_profile(album)

    stats = profile.set_index("label")
    # valence: mean (60 * 0.2 + 180 * 0.6) / 240 = 0.5; bounds 0.4 and 0.6
    assert stats.loc["valence", ["mean_low", "mean", "mean_high"]].tolist() == pytest.approx(
        [0.4, 0.5, 0.6])  # fmt: skip
    assert (stats["interval_level"] == 0.9).all()
    # a label whose model has no half-width: no interval, said by NaN
    assert stats.loc["dominance", ["mean_low", "mean_high"]].isna().all()
    assert arc["valence_high"].tolist() == [0.3, 0.7]
    assert arc["out_of_domain"].tolist() == [False, True]
    # without intervals the profile's columns are as before
    plain, _ = build_movie_profile(album.drop(columns=[c for c in album if "_lo" in c or "_hi" in c
                                                       or c == "interval_level"]))  # fmt: skip
    assert "mean_low" not in plain and "interval_level" not in plain


def test_the_catalogue_table_carries_each_movies_mean_interval_and_level(catalogue_outputs):
    movies = [{"movie_id": "m1", "title": "One", "year": 2000, "genre": "drama",
               "tracks": [("01 a", 60.0, 0.2, 0.3, 0.4, "ok", True),
                          ("02 b", 30.0, 0.6, 0.5, 0.4, "ok", False)]}]  # fmt: skip

    table, track_vad, _ = catalogue_outputs(movies, intervals=True)

    assert table["interval_level"].tolist() == [0.9]
    row = table.iloc[0]
    assert row["valence_mean_low"] <= row["valence_mean"] <= row["valence_mean_high"]
    assert track_vad["m1"]()["valence_low"].tolist() == pytest.approx([0.1, 0.5])


def test_the_figures_shade_the_intervals(album):
    profile, arc = build_movie_profile(album)
    svg = movie_profile_svg(arc, profile, audio_path=None, title="One")
    panels = dict(part.split('">', 1) for part in svg.split('<g class="panel" data-label="')[1:])
    assert "90% interval" in panels["valence"]
    assert "90% interval" not in panels["dominance"]

    timeline = pd.DataFrame({"track": "a", "start_s": [0.0, 5.0], "end_s": [5.0, 8.0],
                             "valence": [0.2, 0.4], "arousal": 0.5, "dominance": 0.5,
                             "valence_low": [0.1, 0.3], "valence_high": [0.3, 0.5],
                             "interval_level": 0.9})  # fmt: skip
    waveform = pd.DataFrame({"track": "a", "time_s": [1.0], "low": [-0.1], "high": [0.1]})
    top = plot_vad_timeline(timeline, waveform, title="a").axes[0]
    (band,) = top.collections
    # the band spans the rows' bounds: 0.1 to 0.5 over the track
    assert band.get_paths()[0].get_extents().y0 == pytest.approx(0.1)
    assert band.get_paths()[0].get_extents().y1 == pytest.approx(0.5)
