"""One track's VAD timeline: window coverage, frame alignment, schema and summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.audio import load_audio
from soundtrack_emotion.core.embeddings.vggish import vggish_embeddings
from soundtrack_emotion.core.families.mfcc import mfcc
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import AudioDecodeError, DataValidationError, ParameterError
from soundtrack_emotion.pipelines.inference.track import (
    MIN_ROW_SECONDS,
    TIMELINE_COLUMNS,
    WAVEFORM_COLUMNS,
    LabelModel,
    TimelineSettings,
    infer_track,
    row_seconds,
    timeline_windows,
    waveform_envelope,
    window_starts,
)
from soundtrack_emotion.runtime.feature_settings import ExtractionParams

FRAME = (43, 13)  # 2 s of MFCCs: small frames keep the tests fast


@pytest.mark.parametrize(
    ("duration", "hop", "n_rows"),
    [
        (37.5, 5.0, 8),
        (40.0, 5.0, 8),
        (3.2, 5.0, 1),
        (10.0000001, 5.0, 2),
        (10.01, 5.0, 3),
        (7.0, 2.5, 3),
    ],
)
def test_timeline_windows_cover_the_track_without_gaps_or_overlaps(duration, hop, n_rows):
    windows = timeline_windows(duration, hop_seconds=hop)

    assert windows.shape == (n_rows, 2)
    assert windows[0, 0] == 0.0
    assert windows[-1, 1] == duration
    np.testing.assert_array_equal(windows[1:, 0], windows[:-1, 1])  # contiguous
    widths = windows[:, 1] - windows[:, 0]
    np.testing.assert_allclose(widths[:-1], hop)
    assert 0 < widths[-1] <= hop + MIN_ROW_SECONDS


def test_timeline_windows_reject_bad_parameters():
    with pytest.raises(ParameterError, match="hop_seconds"):
        timeline_windows(10.0, hop_seconds=0)
    with pytest.raises(ParameterError, match="duration"):
        timeline_windows(0.0, hop_seconds=5.0)


def test_window_starts_centre_frames_and_keep_them_inside_the_track():
    centres = np.array([0.5, 10.0, 99.0])
    starts = window_starts(centres, n_rows=200, length=40, row_seconds=0.25)
    # 10 s is row 40; a 40-row frame centred there starts at row 20. The ends are clamped.
    np.testing.assert_array_equal(starts, [0, 20, 160])
    np.testing.assert_array_equal(
        window_starts(centres, n_rows=30, length=40, row_seconds=0.25), [0, 0, 0]
    )


def test_waveform_envelope_bounds_the_signal():
    y = np.sin(np.linspace(0, 20 * np.pi, 10_000)).astype(np.float32)
    envelope = waveform_envelope(y, sr=1000, points=100)

    assert list(envelope.columns) == ["time_s", "low", "high"]
    assert len(envelope) == 100
    assert envelope["low"].min() == pytest.approx(y.min())
    assert envelope["high"].max() == pytest.approx(y.max())
    assert (envelope["low"] <= envelope["high"]).all()
    assert 0 < envelope["time_s"].iloc[0] < envelope["time_s"].iloc[-1] < 10.0


class RecordingModel:
    """Predicts, per frame, the mean of its first feature row mapped to [0, 1]; keeps the
    frames it saw."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.frames.append(np.array(batch))
        return (1 / (1 + np.exp(-batch[:, 0, :1] / 100))).astype(np.float32)


def _models(predict, output_index=0):
    return [
        LabelModel(label, "mfcc", predict, FRAME, output_index if label == "valence" else 0)
        for label in VAD_LABELS
    ]


def test_infer_track_scores_a_hand_made_track_window_by_window(tmp_path, write_tone, extraction):
    path = write_tone(tmp_path / "tone.wav", 12.5)
    recorder = RecordingModel()

    result = infer_track(
        str(path),
        track="tone",
        extraction=extraction,
        models=_models(recorder),
        timeline=TimelineSettings(hop_seconds=2.0, batch_size=4, waveform_points=300),
    )

    timeline = result.timeline
    assert list(timeline.columns) == list(TIMELINE_COLUMNS)
    assert (timeline["track"] == "tone").all()
    assert len(timeline) == 7
    assert timeline["start_s"].iloc[0] == 0.0
    assert timeline["end_s"].iloc[-1] == pytest.approx(12.5)
    np.testing.assert_array_equal(timeline["start_s"].iloc[1:], timeline["end_s"].iloc[:-1])
    assert timeline[list(VAD_LABELS)].apply(lambda c: c.between(0, 1)).all().all()

    # Each label's model saw, per row, the 2 s MFCC frame centred on the row (batches of 4).
    features = mfcc(load_audio(path))
    centres = (timeline["start_s"] + timeline["end_s"]).to_numpy() / 2
    starts = window_starts(
        centres, n_rows=len(features), length=43, row_seconds=row_seconds("mfcc", extraction)
    )
    # Batches all have batch_size frames (one compiled shape); the last is zero-padded.
    assert [len(b) for b in recorder.frames] == [4, 4] * 3
    seen = np.concatenate(recorder.frames[:2])  # the valence model's two batches
    np.testing.assert_allclose(
        seen[:7], np.stack([features[s : s + 43] for s in starts]), atol=1e-5
    )
    assert not seen[7:].any()

    weights = (timeline["end_s"] - timeline["start_s"]).to_numpy()
    for label in VAD_LABELS:
        expected = np.average(timeline[label], weights=weights)
        assert result.summary[label] == pytest.approx(expected)
    assert result.summary["status"] == "ok"
    assert result.summary["duration_s"] == pytest.approx(12.5)
    assert result.summary["n_windows"] == 7
    assert list(result.waveform.columns) == list(WAVEFORM_COLUMNS)
    assert len(result.waveform) == 300


def test_infer_track_reads_its_label_from_a_joint_model(tmp_path, write_tone, extraction):
    path = write_tone(tmp_path / "tone.wav", 4.0)

    def joint(batch):
        return np.tile(np.array([[0.1, 0.2, 0.3]], np.float32), (len(batch), 1))

    models = [LabelModel(label, "mfcc", joint, FRAME, i) for i, label in enumerate(VAD_LABELS)]
    result = infer_track(
        str(path),
        track="t",
        models=models,
        extraction=extraction,
        timeline=TimelineSettings(hop_seconds=1.0, batch_size=8, waveform_points=50),
    )

    assert result.timeline[list(VAD_LABELS)].iloc[0].tolist() == pytest.approx([0.1, 0.2, 0.3])


def test_infer_track_pads_a_track_shorter_than_one_frame(tmp_path, write_tone, extraction):
    path = write_tone(tmp_path / "short.wav", 1.0)  # 1 s < the 2 s frame

    result = infer_track(
        str(path),
        track="short",
        extraction=extraction,
        models=_models(RecordingModel()),
        timeline=TimelineSettings(hop_seconds=5.0, batch_size=8, waveform_points=50),
    )

    assert result.summary["status"] == "padded"
    assert "padded by repeating it" in result.summary["error"]
    assert result.timeline[["start_s", "end_s"]].to_numpy().tolist() == [[0.0, 1.0]]


def test_infer_track_raises_a_decode_error_for_unreadable_files(tmp_path, extraction):
    garbage = tmp_path / "broken.wav"
    garbage.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    with pytest.raises(AudioDecodeError, match=r"broken\.wav"):
        infer_track(
            str(garbage),
            track="broken",
            extraction=extraction,
            models=_models(RecordingModel()),
            timeline=TimelineSettings(hop_seconds=5.0, batch_size=8, waveform_points=50),
        )


def test_clipped_predictions_stay_on_the_vad_scale(tmp_path, write_tone, extraction):
    path = write_tone(tmp_path / "tone.wav", 3.0)
    result = infer_track(
        str(path),
        track="t",
        extraction=extraction,
        models=_models(lambda b: np.full((len(b), 1), 1.7, np.float32)),
        timeline=TimelineSettings(hop_seconds=1.0, batch_size=8, waveform_points=50),
    )
    assert isinstance(result.timeline, pd.DataFrame)
    assert (result.timeline["valence"] == 1.0).all()


def test_a_vggish_model_gets_its_embeddings_at_one_row_per_0_96_s(
    tmp_path, write_tone, extraction, vggish_standin
):
    path = write_tone(tmp_path / "tone.wav", 10.0)
    recorder = RecordingModel()
    models = [LabelModel(label, "vggish", recorder, (4, 128), 0) for label in VAD_LABELS]

    result = infer_track(
        str(path),
        track="t",
        models=models,
        extraction=extraction,
        timeline=TimelineSettings(hop_seconds=2.5, batch_size=8, waveform_points=50),
        networks={"vggish": vggish_standin},
    )

    embeddings = vggish_embeddings(load_audio(path, sr=16000), model=vggish_standin)
    assert embeddings.shape == (10, 128)  # 10 s -> 10 whole 0.96 s windows
    centres = np.array([1.25, 3.75, 6.25, 8.75])
    starts = window_starts(centres, n_rows=10, length=4, row_seconds=0.96)
    np.testing.assert_array_equal(starts, [0, 2, 5, 6])
    np.testing.assert_allclose(
        recorder.frames[0][:4], np.stack([embeddings[s : s + 4] for s in starts]), rtol=1e-5
    )
    assert len(result.timeline) == 4


def test_tracks_are_held_to_the_feature_extraction_length_rules(
    tmp_path, write_tone, extraction_params
):
    path = write_tone(tmp_path / "short.wav", 1.0)
    run = dict(
        track="short",
        timeline=TimelineSettings(hop_seconds=5.0, batch_size=8, waveform_points=50),
    )

    extraction_params["framing"]["short_track"] = {"policy": "pad", "min_seconds": 3.0}
    with pytest.raises(AudioDecodeError, match="too short"):
        infer_track(str(path), models=_models(RecordingModel()),
                    extraction=ExtractionParams.from_dict(extraction_params), **run)  # fmt: skip

    extraction_params["framing"]["short_track"] = {"policy": "drop", "min_seconds": 0.5}
    with pytest.raises(AudioDecodeError, match="one model frame needs 43"):
        infer_track(str(path), models=_models(RecordingModel()),
                    extraction=ExtractionParams.from_dict(extraction_params), **run)  # fmt: skip


def test_a_model_trained_on_other_features_is_refused(tmp_path, write_tone, extraction):
    path = write_tone(tmp_path / "tone.wav", 3.0)
    models = [LabelModel(label, "mfcc", RecordingModel(), (43, 12), 0) for label in VAD_LABELS]
    with pytest.raises(DataValidationError, match="takes 12 mfcc features per step"):
        infer_track(str(path), track="t", models=models, extraction=extraction,
                    timeline=TimelineSettings(hop_seconds=1.0, batch_size=8,
                                              waveform_points=50))  # fmt: skip
