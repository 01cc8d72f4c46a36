"""Track listing, model choice, the inference node on good and unreadable files, the movie
profile and the figures."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.metrics import selection_rank
from soundtrack_emotion.core.model_files import ModelFile, serialise_model
from soundtrack_emotion.core.profile_svg import movie_profile_svg
from soundtrack_emotion.core.vocabulary import VAD_LABELS, model_partition
from soundtrack_emotion.exceptions import ModelUnavailableError, ParameterError
from soundtrack_emotion.pipelines.inference.nodes import (
    DOMAIN_COLUMNS,
    IDENTITY_COLUMNS,
    MODEL_COLUMNS,
    OUTPUT_IDENTITY,
    TIMELINE_COLUMNS,
    TRACK_COLUMNS,
    build_movie_profile,
    list_inference_tracks,
    model_identity,
    model_key,
    select_inference_models,
)
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
from soundtrack_emotion.runtime.provenance import corpus_fingerprint

FRAME = (43, 13)


@pytest.fixture
def soundtracks() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["b-song", "a-song", "c-song"],
            "audio_path": ["data/01_raw/audio/b-song.wav", "x/a-song.flac", "x/c-song.ogg"],
            "split": ["test", "test", "train"],
        }
    )


# --------------------------------------------------------------------------------- listing


def test_default_tracks_are_the_demo_test_songs(soundtracks):
    tracks = list_inference_tracks("", soundtracks)

    assert tracks.to_dict("list") == {
        "position": [1, 2],
        "track": ["a-song", "b-song"],
        "path": ["x/a-song.flac", "data/01_raw/audio/b-song.wav"],
    }


def test_a_folder_is_listed_in_name_order_with_unique_track_names(tmp_path, soundtracks, caplog):
    names = ("02 Theme.wav", "01 Intro.FLAC", "cover.jpg", ".DS_Store", "02 Theme.mp3",
             "notes.txt", "album.cue", "back.jpg", "README")  # fmt: skip
    for name in names:
        (tmp_path / name).write_bytes(b"x")

    with caplog.at_level(logging.INFO):
        tracks = list_inference_tracks(str(tmp_path), soundtracks, [".wav", "flac", ".MP3"])

    assert tracks["track"].tolist() == ["01 Intro", "02 Theme.mp3", "02 Theme.wav"]
    assert tracks["position"].tolist() == [1, 2, 3]
    assert tracks["path"].iloc[0] == str(tmp_path / "01 Intro.FLAC")
    summary = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(summary) == 1
    assert "5 other files skipped (2 .jpg, 1 (no extension), 1 .cue, 1 .txt)" in summary[0]


def test_a_folder_without_audio_is_refused(tmp_path, soundtracks):
    (tmp_path / "cover.jpg").write_bytes(b"x")
    with pytest.raises(ParameterError, match="holds no audio file"):
        list_inference_tracks(str(tmp_path), soundtracks)


def test_a_relative_audio_path_is_taken_from_the_project_root(tmp_path, soundtracks, monkeypatch):
    from soundtrack_emotion.runtime import paths

    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "a.wav").write_bytes(b"x")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setattr(paths, "_project_root", tmp_path)
    tracks = list_inference_tracks("music", soundtracks)
    assert tracks["path"].tolist() == [str(tmp_path / "music" / "a.wav")]


def test_a_csv_gives_the_album_order_relative_to_its_folder(tmp_path, soundtracks):
    album = tmp_path / "album"
    album.mkdir()
    pd.DataFrame({"path": ["z.wav", "a.wav", "/abs/m.wav", "z.wav"]}).to_csv(
        album / "order.csv", index=False
    )

    tracks = list_inference_tracks(str(album / "order.csv"), soundtracks)

    assert tracks["path"].tolist() == [
        str(album / "z.wav"),
        str(album / "a.wav"),
        "/abs/m.wav",
        str(album / "z.wav"),
    ]
    assert tracks["track"].tolist() == ["z", "a", "m", "z (2)"]


def test_a_single_file_and_a_missing_path(tmp_path, soundtracks):
    song = tmp_path / "song.ogg"
    song.write_bytes(b"x")
    assert list_inference_tracks(str(song), soundtracks)["track"].tolist() == ["song"]
    with pytest.raises(ParameterError, match="does not exist"):
        list_inference_tracks(str(tmp_path / "nope"), soundtracks)


# ---------------------------------------------------------------------------- model choice


@pytest.fixture
def model_metrics() -> pd.DataFrame:
    """val losses: valence best with vggish_lstm, arousal with mfcc_cnn, dominance with
    mfcc_lstm; a joint mfcc_cnn model with a (not comparable) lower loss."""
    losses = {
        ("mfcc", "cnn", "valence"): 0.020,
        ("mfcc", "lstm", "valence"): 0.019,
        ("vggish", "lstm", "valence"): 0.015,
        ("mfcc", "cnn", "arousal"): 0.010,
        ("mfcc", "lstm", "arousal"): 0.011,
        ("vggish", "lstm", "arousal"): 0.012,
        ("mfcc", "cnn", "dominance"): 0.009,
        ("mfcc", "lstm", "dominance"): 0.008,
        ("vggish", "lstm", "dominance"): 0.0081,
        ("mfcc", "cnn", "joint"): 0.001,
    }
    rows = []
    for (feature, network, target), loss in losses.items():
        for label in VAD_LABELS if target == "joint" else (target,):
            for level in ("frame", "song"):
                rows.append((feature, network, target, label, level, loss))
    return pd.DataFrame(
        rows, columns=["feature", "network", "target", "label", "level", "best_val_loss"]
    )


def _choice(chosen: pd.DataFrame) -> dict[str, tuple]:
    return {
        row.label: (row.feature, row.network, row.target, row.output_index)
        for row in chosen.itertuples()
    }


def test_best_picks_the_lowest_validation_loss_among_models_of_that_label(model_metrics):
    chosen = select_inference_models(model_metrics, "best")

    assert list(chosen.columns) == [*MODEL_COLUMNS, *IDENTITY_COLUMNS]
    assert _choice(chosen) == {
        "valence": ("vggish", "lstm", "valence", 0),
        "arousal": ("mfcc", "cnn", "arousal", 0),
        "dominance": ("mfcc", "lstm", "dominance", 0),
    }


def test_best_prefers_the_cross_validated_r2_where_a_label_has_one(model_metrics):
    """A cross-validated ridge beats networks of lower validation loss (their figure is the
    validation MSE their early stopping watched); per label: arousal has no CV figure, so
    the validation loss still decides there."""
    ridge = [
        ("mfcc", "ridge", label, label, level, 0.05, cv)
        for label, cv in (("valence", 0.10), ("dominance", 0.30))
        for level in ("frame", "song")
    ]
    # no validation loss: its CV R² is a figure of the choice all the same
    kernel = [("mfcc", "kernel", "valence", "valence", level, np.nan, 0.20)
              for level in ("frame", "song")]  # fmt: skip
    table = pd.concat([
        model_metrics.assign(cv_r2_mean=np.nan),
        pd.DataFrame(ridge + kernel, columns=[*model_metrics.columns, "cv_r2_mean"]),
    ], ignore_index=True)  # fmt: skip

    chosen = select_inference_models(table, "best")

    assert _choice(chosen) == {
        "valence": ("mfcc", "kernel", "valence", 0),
        "arousal": ("mfcc", "cnn", "arousal", 0),
        "dominance": ("mfcc", "ridge", "dominance", 0),
    }
    assert chosen["cv_r2_mean"].tolist() == [0.20, pytest.approx(np.nan, nan_ok=True), 0.30]
    ranked = _ranks_by_model(table)
    assert ranked[("valence", "mfcc", "kernel")] == 1
    assert ranked[("valence", "mfcc", "ridge")] == 2
    assert ranked[("valence", "vggish", "lstm")] == 3  # then by validation loss


def _ranks_by_model(table: pd.DataFrame) -> dict[tuple[str, str, str], int]:
    ranks = selection_rank(table)
    return {(r.label, r.feature, r.network): rank
            for r, rank in zip(table.itertuples(), ranks, strict=True)}  # fmt: skip


def test_best_among_offline_models_only(model_metrics):
    chosen = select_inference_models(model_metrics, "best", features=("mfcc",))
    assert _choice(chosen)["valence"] == ("mfcc", "lstm", "valence", 0)
    with pytest.raises(ParameterError, match=r"vggish features.*offline"):
        select_inference_models(model_metrics, "vggish_lstm", features=("mfcc",))


def test_a_variant_or_one_joint_model_can_be_chosen(model_metrics):
    variant = select_inference_models(model_metrics, "mfcc_cnn")
    assert {v[:3] for v in _choice(variant).values()} == {
        ("mfcc", "cnn", label) for label in VAD_LABELS
    }
    joint = select_inference_models(model_metrics, "mfcc_cnn.joint")
    assert _choice(joint) == {
        label: ("mfcc", "cnn", "joint", i) for i, label in enumerate(VAD_LABELS)
    }


def test_a_model_missing_from_model_metrics_can_still_be_named(model_metrics):
    """E.g. a modelling_all model trained after the metrics table was written: chosen by its
    name, its validation loss unknown; predict_vad_timelines loads it or says how to train it."""
    chosen = select_inference_models(model_metrics, "mfcc_bilstm")
    assert _choice(chosen) == {label: ("mfcc", "bilstm", label, 0) for label in VAD_LABELS}
    assert chosen["best_val_loss"].isna().all()
    joint = select_inference_models(model_metrics, "mfcc_transformer.joint", features=("mfcc",))
    assert set(joint["target"]) == {"joint"}
    assert joint["output_index"].tolist() == [0, 1, 2]


def test_best_never_picks_a_model_of_another_corpus_and_outputs_name_the_model():
    """After the corpus changed, the models trained on the old one (model_metrics written
    before the change) are not candidates, and naming one is refused with the reason."""
    features = _feature_parameters()
    old, new = _corpus(0), _corpus(1)
    old_fp, new_fp = corpus_fingerprint(old), corpus_fingerprint(new)
    mfcc_fp = ExtractionParams.from_dict(features).fingerprint("mfcc")
    rows = []
    for network, corpus_fp, kind, loss in (
        ("cnn", old_fp, "demo", 0.001),
        ("ridge", new_fp, "real", 0.01),
    ):
        for label in VAD_LABELS:
            rows.append(
                {
                    "feature": "mfcc",
                    "network": network,
                    "target": label,
                    "label": label,
                    "level": "song",
                    "best_val_loss": loss,
                    "corpus_kind": kind,
                    "corpus_fingerprint": corpus_fp,
                    "features_fingerprint": mfcc_fp,
                    "mlflow_run_id": f"run-{network}",
                    "registered_model": f"soundtrack_emotion.mfcc_{network}.{label}",
                    "model_version": "2",
                }
            )
    metrics = pd.DataFrame(rows)  # fmt: skip
    on_old = select_inference_models(metrics, "best", soundtracks=old, feature_extraction=features)
    assert set(on_old["network"]) == {"cnn"}  # the old corpus's own models, lower loss
    chosen = select_inference_models(metrics, "best", soundtracks=new, feature_extraction=features)
    assert set(chosen["network"]) == {"ridge"}
    assert set(chosen["corpus_kind"]) == {"real"}
    with pytest.raises(ParameterError, match="stale: trained on another corpus"):
        select_inference_models(metrics, "mfcc_cnn", soundtracks=new, feature_extraction=features)

    identity = model_identity(chosen)
    assert identity["model"].startswith("valence=mfcc_ridge.valence; arousal=mfcc_ridge.arousal")
    assert "valence=soundtrack_emotion.mfcc_ridge.valence/2" in identity["model_version"]
    assert identity["trained_on"] == f"real {new_fp}" and not identity["demo_model"]
    assert model_identity(on_old)["demo_model"]


def _corpus(seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": [f"s{seed}-{i}" for i in range(6)],
                         **{label: rng.uniform(size=6) for label in VAD_LABELS},
                         "split": ["train", "validation", "test"] * 2})  # fmt: skip


def _feature_parameters():
    import yaml

    root = Path(__file__).resolve().parents[3]
    text = (root / "conf/base/parameters_feature_extraction.yml").read_text()
    return yaml.safe_load(text)["feature_extraction"]


def test_an_unknown_model_choice_lists_the_options(model_metrics):
    for choice in ("mfcc_gru", "mfcc_cnn.happiness", "mel_cnn", "cnn"):
        with pytest.raises(ParameterError, match=rf"{choice!r} names no model.*networks \['cnn'"):
            select_inference_models(model_metrics, choice)


# ------------------------------------------------------------------ the node, bad files too


def _chosen(feature="mfcc", network="cnn") -> pd.DataFrame:
    return pd.DataFrame(
        [(label, feature, network, label, 0, 0.01, np.nan) for label in VAD_LABELS],
        columns=list(MODEL_COLUMNS),
    )


def test_unreadable_files_get_a_row_with_the_reason_and_the_rest_are_processed(
    tmp_path, write_tone, tiny_model, extraction_params, run_inference, as_trained_models
):
    good_a = write_tone(tmp_path / "a.wav", 6.0)
    good_b = write_tone(tmp_path / "b.flac", 3.3, sr=16000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x10\x00\x00WAVEfmt " + bytes(200))
    text = tmp_path / "notes.mp3"
    text.write_text("these are liner notes, not audio\n" * 20)
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.wav"
    paths = [good_a, corrupt, text, missing, empty, good_b]
    tracks = pd.DataFrame(
        {"position": range(1, 7), "track": [p.stem for p in paths], "path": [str(p) for p in paths]}
    )
    models = {
        model_key("mfcc", "cnn", label): tiny_model(FRAME, value=v)
        for label, v in zip(VAD_LABELS, (0.2, 0.5, 0.8), strict=True)
    }

    timelines, track_vad, waveforms = run_inference(
        tracks,
        _chosen(),
        tmp_path / "cache",
        hop_seconds=2.0,
        batch_size=4,
        waveform_points=100,
        feature_extraction=extraction_params,
        trained_models=as_trained_models(models),
    )

    assert list(track_vad.columns) == [*TRACK_COLUMNS, *OUTPUT_IDENTITY]
    assert track_vad["track"].tolist() == ["a", "corrupt", "notes", "missing", "empty", "b"]
    assert track_vad["status"].tolist() == ["ok", "error", "error", "error", "error", "ok"]
    reasons = dict(zip(track_vad["track"], track_vad["error"], strict=True))
    assert reasons["a"] == "" and reasons["b"] == ""
    assert "corrupt" in reasons["corrupt"]
    assert "not an audio file" in reasons["notes"] or "ffmpeg" in reasons["notes"]
    assert "file not found" in reasons["missing"]
    assert "empty file" in reasons["empty"]
    assert track_vad.loc[track_vad["status"] == "error", list(VAD_LABELS)].isna().all().all()

    ok = track_vad[track_vad["status"] == "ok"].set_index("track")
    assert ok["duration_s"].to_dict() == pytest.approx({"a": 6.0, "b": 3.3})
    assert ok["n_windows"].to_dict() == {"a": 3, "b": 2}
    np.testing.assert_allclose(ok[list(VAD_LABELS)].to_numpy(), [[0.2, 0.5, 0.8]] * 2, atol=1e-6)

    assert list(timelines.columns) == [*TIMELINE_COLUMNS, *DOMAIN_COLUMNS, *OUTPUT_IDENTITY]
    assert timelines["track"].tolist() == ["a"] * 3 + ["b"] * 2
    b_rows = timelines[timelines["track"] == "b"]
    np.testing.assert_allclose(b_rows[["start_s", "end_s"]], [[0.0, 2.0], [2.0, 3.3]])
    assert set(waveforms["track"]) == {"a", "b"}


def test_nan_samples_never_reach_a_feature_and_never_stop_the_run(
    tmp_path, write_tone, tiny_model, extraction_params, run_inference, as_trained_models
):
    import soundfile as sf

    good = write_tone(tmp_path / "good.wav", 4.0)
    y, sr = sf.read(good, dtype="float32")
    speck, stretch = y.copy(), y.copy()
    speck[sr : sr + 20] = np.nan  # 20 samples: replaced by silence, noted on the track
    stretch[sr : 3 * sr] = np.nan  # half the track: an error with the reason
    sf.write(tmp_path / "speck.wav", speck, sr, subtype="FLOAT")
    sf.write(tmp_path / "stretch.wav", stretch, sr, subtype="FLOAT")
    paths = [tmp_path / "stretch.wav", tmp_path / "speck.wav", good]
    tracks = pd.DataFrame(
        {"position": [1, 2, 3], "track": [p.stem for p in paths], "path": [str(p) for p in paths]}
    )
    models = {model_key("mfcc", "cnn", label): tiny_model(FRAME) for label in VAD_LABELS}

    _, track_vad, _ = run_inference(
        tracks, _chosen(), tmp_path / "cache", hop_seconds=2.0, batch_size=4,
        waveform_points=100, feature_extraction=extraction_params,
        trained_models=as_trained_models(models),
    )  # fmt: skip

    rows = track_vad.set_index("track")
    assert rows["status"].to_dict() == {"stretch": "error", "speck": "ok", "good": "ok"}
    assert "invalid samples" in rows.loc["stretch", "error"]
    assert "replaced by silence" in rows.loc["speck", "error"]
    assert rows.loc[["speck", "good"], list(VAD_LABELS)].notna().all().all()


def test_a_run_where_nothing_is_readable_still_reports_every_track(
    tmp_path, tiny_model, extraction_params, run_inference, as_trained_models
):
    tracks = pd.DataFrame({"position": [1], "track": ["x"], "path": [str(tmp_path / "x.wav")]})
    models = {model_key("mfcc", "cnn", label): tiny_model(FRAME) for label in VAD_LABELS}

    timelines, track_vad, waveforms = run_inference(
        tracks,
        _chosen(),
        tmp_path / "cache",
        hop_seconds=2.0,
        batch_size=4,
        waveform_points=100,
        feature_extraction=extraction_params,
        trained_models=as_trained_models(models),
    )

    assert timelines.empty
    assert list(timelines.columns) == [*TIMELINE_COLUMNS, *DOMAIN_COLUMNS, *OUTPUT_IDENTITY]
    assert waveforms.empty
    assert track_vad["status"].tolist() == ["error"]
    profile, arc = build_movie_profile(track_vad)
    assert arc.empty and profile["n_tracks"].tolist() == [0, 0, 0]
    empty = movie_profile_svg(arc, profile, audio_path="", title="")
    assert "Emotional arc of the demo&#x27;s test songs (0 tracks, 0.0 min)" in empty


def test_only_the_chosen_models_are_loaded_and_a_missing_one_says_how_to_train_it(
    tmp_path, tiny_model, extraction_params, run_inference
):
    tracks = pd.DataFrame({"position": [1], "track": ["x"], "path": [str(tmp_path / "x.wav")]})
    loads = []
    stored = ModelFile(path="model.keras", content=serialise_model(tiny_model(FRAME)))

    def loader(key):
        def load():
            loads.append(key)
            return stored

        return load

    trained = {
        model_partition("mfcc", n, label): loader(f"{n}/{label}")
        for n in ("cnn", "lstm")
        for label in VAD_LABELS
    }
    node_kwargs = dict(
        hop_seconds=2.0, batch_size=4, waveform_points=100, feature_extraction=extraction_params
    )
    chosen = _chosen(network="lstm").assign(model_sha256=stored.sha256)

    run_inference(tracks, chosen, tmp_path / "cache", trained_models=trained, **node_kwargs)

    assert sorted(loads) == [f"lstm/{label}" for label in sorted(VAD_LABELS)]
    del trained[model_partition("mfcc", "lstm", "arousal")]
    with pytest.raises(
        ParameterError,
        match=r"mfcc_lstm\.arousal has no file.*train it first: kedro run "
        r"--pipelines=modelling_all --namespaces=mfcc_lstm\.arousal",
    ):
        run_inference(
            tracks,
            chosen,
            tmp_path / "cache2",
            trained_models=trained,
            **node_kwargs,
        )


# --------------------------------------------------------------------------- movie profile


@pytest.fixture
def album() -> pd.DataFrame:
    """Three readable tracks of 60, 120 and 180 s (and one unreadable), hand-computable."""
    return pd.DataFrame(
        {
            "position": [1, 2, 3, 4],
            "track": ["opening", "broken", "chase", "finale"],
            "path": ["1.wav", "2.wav", "3.wav", "4.wav"],
            "status": ["ok", "error", "ok", "padded"],
            "error": ["", "corrupt", "", "short"],
            "duration_s": [60.0, np.nan, 120.0, 180.0],
            "n_windows": [12, 0, 24, 36],
            "valence": [0.2, np.nan, 0.5, 0.8],
            "arousal": [0.6, np.nan, 0.6, 0.6],
            "dominance": [0.9, np.nan, 0.3, 0.3],
        }
    )


def test_movie_profile_is_duration_weighted(album):
    profile, arc = build_movie_profile(album)

    stats = profile.set_index("label")
    # valence: (60*0.2 + 120*0.5 + 180*0.8) / 360 = 216 / 360 = 0.6
    assert stats.loc["valence", "mean"] == pytest.approx(0.6)
    # spread: sqrt((60*0.16 + 120*0.01 + 180*0.04) / 360) = sqrt(18 / 360)
    assert stats.loc["valence", "std"] == pytest.approx(np.sqrt(0.05))
    assert stats.loc["arousal", "mean"] == pytest.approx(0.6)
    assert stats.loc["arousal", "std"] == pytest.approx(0.0)
    # dominance: (54 + 36 + 54) / 360 = 0.4; spread sqrt((60*0.25 + 300*0.01) / 360)
    assert stats.loc["dominance", "mean"] == pytest.approx(0.4)
    assert stats.loc["dominance", "std"] == pytest.approx(np.sqrt(18 / 360))
    assert stats.loc["valence", ["min", "max", "opening", "closing"]].tolist() == pytest.approx(
        [0.2, 0.8, 0.2, 0.8]
    )
    assert stats.loc["valence", "trend_per_hour"] > 0  # valence rises across the album
    assert stats.loc["dominance", "trend_per_hour"] < 0
    assert stats.loc["arousal", "trend_per_hour"] == pytest.approx(0.0)
    assert stats["n_tracks"].tolist() == [3, 3, 3]
    assert stats["total_s"].tolist() == [360.0] * 3

    assert arc["track"].tolist() == ["opening", "chase", "finale"]
    assert arc["album_start_s"].tolist() == [0.0, 60.0, 180.0]
    assert arc["album_end_s"].tolist() == [60.0, 180.0, 360.0]


def test_movie_profile_plot_is_drawn_from_the_arc_on_the_album_clock(album):
    profile, arc = build_movie_profile(album)

    svg = movie_profile_svg(arc, profile, audio_path="/music/Interstellar", title="")

    assert "Emotional arc of Interstellar (3 tracks, 6.0 min)" in svg
    assert "weighted mean 0.60" in svg and "± std 0.22" in svg
    assert "track 3 chase: valence 0.50" in svg  # the unreadable track 2 has no step
    assert "Memento (3 tracks" in movie_profile_svg(arc, profile, audio_path="", title="Memento")


def test_a_tampered_model_file_is_refused_naming_the_file_and_both_hashes(
    tmp_path, write_tone, tiny_model, extraction_params, run_inference
):
    """The file of a chosen model is not the one model_metrics scored: inference stops before
    scoring anything, instead of choosing a model by another model's scores."""
    tracks = pd.DataFrame({"position": [1], "track": ["a"],
                           "path": [str(write_tone(tmp_path / "a.wav", 4.0))]})  # fmt: skip
    scored = ModelFile(path="scored.keras", content=serialise_model(tiny_model(FRAME)))
    tampered = ModelFile(path=str(tmp_path / "data/06_models/mfcc_cnn/valence.keras"),
                         content=serialise_model(tiny_model(FRAME, value=0.9)))  # fmt: skip
    trained = {model_partition("mfcc", "cnn", label): (lambda: scored) for label in VAD_LABELS}
    trained[model_partition("mfcc", "cnn", "valence")] = lambda: tampered
    chosen = _chosen().assign(model_sha256=scored.sha256)

    with pytest.raises(ModelUnavailableError) as error:
        run_inference(tracks, chosen, tmp_path / "cache", trained_models=trained,
                      hop_seconds=2.0, batch_size=4, waveform_points=100,
                      feature_extraction=extraction_params)  # fmt: skip
    message = str(error.value)
    assert "model mfcc_cnn.valence" in message and tampered.path in message
    assert tampered.sha256 in message and scored.sha256 in message
    assert "--namespaces=mfcc_cnn.valence" in message and "restore" in message
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
