"""Every reporting figure has the expected axes, panels, labels and lines."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from soundtrack_emotion.core.vocabulary import VAD_LABELS, model_partition
from soundtrack_emotion.exceptions import DataValidationError
from soundtrack_emotion.pipelines.reporting.figures import (
    NO_MODELS,
    NO_TEST_SONGS,
    plot_predicted_vs_true,
    plot_test_song_timelines,
    plot_training_curves,
    plot_vad_histograms,
    plot_vad_scatter,
)


def _renders(fig: Figure) -> None:
    """The figure saves as a PNG (layout and text drawing succeed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    assert buffer.getvalue().startswith(b"\x89PNG")


def _index(make_metric_row, models) -> pd.DataFrame:
    """``model_metrics`` listing ``models`` ((feature, network, target) triples)."""
    return pd.DataFrame(
        [
            make_metric_row(feature, network, target, label, "frame", 0.01)
            for feature, network, target in models
            for label in (VAD_LABELS if target == "joint" else (target,))
        ]
    )


def _partitions(frames: dict) -> dict:
    """Partition id -> loader, as ``PartitionedDataset`` loads them."""
    return {key: (lambda frame=frame: frame) for key, frame in frames.items()}


def _unloadable() -> pd.DataFrame:
    raise AssertionError("a partition of a model not in model_metrics was loaded")


def _diagonal(ax) -> Line2D:
    (line,) = [line for line in ax.get_lines() if line.get_label() == "perfect prediction"]
    return line


def test_vad_histograms_have_one_panel_per_label_counting_every_track(soundtracks):
    fig = plot_vad_histograms(soundtracks, bins=10)

    assert len(fig.axes) == 3
    for ax, label in zip(fig.axes, VAD_LABELS, strict=True):
        mean = soundtracks[label].mean()
        assert ax.get_title().startswith(f"{label.capitalize()}: mean {mean:.2f}")
        assert ax.get_xlabel().startswith(label.capitalize())
        assert ax.get_xlim() == (0.0, 1.0)
        heights = [patch.get_height() for patch in ax.patches]
        assert len(heights) == 10 and sum(heights) == len(soundtracks)
        (mean_line,) = ax.get_lines()
        assert mean_line.get_xdata()[0] == pytest.approx(mean)
    assert fig.axes[0].get_ylabel() == "Number of tracks"
    assert "30 tracks" in fig.get_suptitle()
    _renders(fig)


def test_vad_scatter_is_one_3d_axes_with_a_series_per_split(soundtracks):
    fig = plot_vad_scatter(soundtracks)

    (ax,) = fig.axes
    assert ax.name == "3d"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == (
        "Valence",
        "Arousal",
        "Dominance",
    )
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["train (20)", "validation (5)", "test (5)"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(soundtracks)
    _renders(fig)


def test_vad_figures_reject_soundtracks_without_labels(soundtracks):
    with pytest.raises(DataValidationError, match="dominance"):
        plot_vad_histograms(soundtracks.drop(columns="dominance"), bins=10)


def test_predicted_vs_true_has_a_figure_per_feature_and_a_panel_per_network_and_label(
    make_predictions, make_metric_row
):
    models = [
        (f, n, lab) for f in ("mfcc", "vggish") for n in ("lstm", "cnn") for lab in VAD_LABELS
    ]
    inputs = {
        model_partition(*model): make_predictions([model[2]], seed=i)
        for i, model in enumerate(models)
    }

    figures = plot_predicted_vs_true(
        _index(make_metric_row, models), _partitions(inputs), features=("mfcc", "vggish")
    )

    assert sorted(figures) == ["mfcc.png", "vggish.png"]
    fig = figures["mfcc.png"]
    assert len(fig.axes) == 2 * 3  # rows: CNN, LSTM (thesis order); columns: V, A, D
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        f"CNN (per label): {label}" for label in VAD_LABELS
    ]
    assert fig.axes[3].get_title() == "LSTM (per label): valence"
    for ax, label in zip(fig.axes, VAD_LABELS * 2, strict=True):
        assert ax.get_xlabel() == f"true {label}"
        assert ax.get_ylabel() == f"predicted {label}"
        xs, ys = _diagonal(ax).get_data()
        np.testing.assert_allclose(xs, ys)
        assert _diagonal(ax).get_color() == "red"
        (points,) = ax.collections
        assert len(points.get_offsets()) == 4 * 3  # 4 songs x 3 frames
    # The CNN valence panel plots (true, predicted) of the mfcc/cnn valence model.
    expected = inputs["mfcc_cnn/valence"]
    np.testing.assert_allclose(
        fig.axes[0].collections[0].get_offsets(), expected[["true", "predicted"]].to_numpy()
    )
    _renders(fig)


def test_predicted_vs_true_gives_a_joint_model_its_own_row(make_predictions, make_metric_row):
    models = [("mfcc", "cnn", "valence"), ("mfcc", "transformer", "joint")]
    figures = plot_predicted_vs_true(
        _index(make_metric_row, models),
        _partitions(
            {
                "mfcc_cnn/valence": make_predictions(["valence"]),
                "mfcc_transformer/joint": make_predictions(list(VAD_LABELS)),
            }
        ),
        features=("mfcc",),
    )

    fig = figures["mfcc.png"]
    assert len(fig.axes) == 2 * 3
    visible = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in visible] == [
        "CNN (per label): valence",
        *(f"Transformer (joint): {label}" for label in VAD_LABELS),
    ]


def test_figures_load_only_the_models_of_model_metrics_in_the_drawn_features(
    make_predictions, make_metric_row
):
    models = [("mfcc", "cnn", "valence"), ("vggish", "cnn", "valence")]
    partitions = {
        "mfcc_cnn/valence": lambda: make_predictions(["valence"]),
        "vggish_cnn/valence": _unloadable,  # listed, but its feature family is not drawn
        "mfcc_lstm/valence": _unloadable,  # on disk, but not in model_metrics
    }

    figures = plot_predicted_vs_true(
        _index(make_metric_row, models), partitions, features=("mfcc",)
    )

    assert list(figures) == ["mfcc.png"]
    assert [ax.get_title() for ax in figures["mfcc.png"].axes if ax.axison] == [
        "CNN (per label): valence"
    ]


def test_figures_reject_a_listed_model_without_its_file(make_predictions, make_metric_row):
    index = _index(make_metric_row, [("mfcc", "cnn", "valence"), ("mfcc", "lstm", "arousal")])
    with pytest.raises(DataValidationError, match="mfcc_lstm/arousal"):
        plot_predicted_vs_true(
            index,
            _partitions({"mfcc_cnn/valence": make_predictions(["valence"])}),
            features=("mfcc",),
        )


def test_figures_without_models_say_so(make_metric_row):
    empty = _index(make_metric_row, [])
    for plot in (plot_predicted_vs_true, plot_training_curves):
        figures = plot(
            empty.reindex(columns=["feature", "network", "target"]), {}, features=("mfcc",)
        )
        assert list(figures) == [f"{NO_MODELS}.png"]
        assert "No trained MFCC model" in figures[f"{NO_MODELS}.png"].texts[0].get_text()


def test_training_curves_have_a_panel_per_network_and_target_with_the_best_epoch(
    make_history, make_metric_row
):
    history = make_history(epochs=8)
    models = [("mfcc", network, label) for network in ("cnn", "lstm") for label in VAD_LABELS]

    figures = plot_training_curves(
        _index(make_metric_row, models),
        _partitions({model_partition(*model): history for model in models}),
        features=("mfcc",),
    )

    (fig,) = figures.values()
    assert list(figures) == ["mfcc.png"]
    assert len(fig.axes) == 2 * 3
    assert fig.axes[0].get_title() == "CNN: valence"
    assert fig.axes[5].get_title() == "LSTM: dominance"
    best_epoch = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    for ax in fig.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"training", "validation", "best epoch"}
        np.testing.assert_allclose(lines["training"].get_ydata(), history["loss"])
        np.testing.assert_allclose(lines["validation"].get_ydata(), history["val_loss"])
        assert lines["best epoch"].get_xdata()[0] == best_epoch
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("Epoch", "Loss (MSE, log scale)")
        assert ax.get_yscale() == "log"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "training",
        "validation",
        "best epoch",
    ]
    _renders(fig)


def test_test_song_timelines_draw_test_songs_above_their_waveform_with_true_labels(
    soundtracks, make_timeline, make_waveform
):
    test_ids = soundtracks.loc[soundtracks["split"] == "test", "id"].tolist()
    train_id = soundtracks.loc[soundtracks["split"] == "train", "id"].iloc[0]
    tracks = [train_id, *test_ids[:3]]
    timelines = [make_timeline(t, 42.0) for t in tracks]
    waveforms = [make_waveform(t, 42.0) for t in tracks]
    figures = plot_test_song_timelines(
        pd.concat(timelines), pd.concat(waveforms), soundtracks, n_songs=2
    )

    assert len(figures) == 2  # the train song is skipped, n_songs caps the rest
    fig = next(iter(figures.values()))
    top, bottom = fig.axes
    song = soundtracks.set_index("id").loc[test_ids[0]]
    assert top.get_title() == f"{song['track']} - {song['artist']} (test song)"
    assert top.get_ylim() == (0.0, 1.0) and top.get_ylabel().startswith("Predicted VAD")
    steps = top.patches
    assert [s.get_label() for s in steps] == list(VAD_LABELS)
    np.testing.assert_allclose(steps[0].get_data().edges, [0, 5, 10, 15, 20, 25, 30, 35, 40, 42])
    np.testing.assert_allclose(steps[0].get_data().values, timelines[1]["valence"])
    true_lines = {line.get_label(): line.get_ydata()[0] for line in top.get_lines()}
    for label in VAD_LABELS:
        assert true_lines[f"true {label} {song[label]:.2f}"] == pytest.approx(song[label])
    assert bottom.get_xlabel() == "Time (s)" and bottom.get_ylabel() == "Amplitude"
    assert bottom.get_xlim() == (0.0, 42.0)
    assert len(bottom.collections) == 1  # the waveform envelope
    _renders(fig)


def test_test_song_timelines_explain_when_no_test_song_was_inferred(
    soundtracks, make_timeline, make_waveform
):
    figures = plot_test_song_timelines(
        make_timeline("unknown-track", 20.0),
        make_waveform("unknown-track", 20.0),
        soundtracks,
        n_songs=3,
    )

    assert list(figures) == [f"{NO_TEST_SONGS}.png"]
    assert "no test song" in figures[f"{NO_TEST_SONGS}.png"].texts[0].get_text()
