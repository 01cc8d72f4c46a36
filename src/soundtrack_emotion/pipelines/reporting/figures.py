"""The thesis's figures, rebuilt from catalogued data. Every node returns ``Figure`` objects
(``matplotlib.figure.Figure``, no pyplot state) that ``matplotlib.MatplotlibDataset`` saves.

Nodes that compare models draw the models listed in ``model_metrics`` (the index of trained
models) and read their outputs from partitioned folders (``model_test_predictions``,
``model_histories``: partition id ``{feature}_{network}/{target}`` -> loader), loading only
those partitions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from soundtrack_emotion.core import metrics
from soundtrack_emotion.core.vad_plots import file_name, plot_vad_timeline
from soundtrack_emotion.core.vocabulary import SPLITS, VAD_COLORS, VAD_LABELS, model_partition
from soundtrack_emotion.exceptions import DataValidationError
from soundtrack_emotion.pipelines.reporting.nodes import display_name, sort_key

SPLIT_MARKERS = {"train": "o", "validation": "^", "test": "s"}
PREDICTION_COLUMNS = ("label", "true", "predicted")
HISTORY_COLUMNS = ("epoch", "loss", "val_loss")
MODEL_COLUMNS = ("feature", "network", "target")
NO_TEST_SONGS = "no_test_songs"
NO_MODELS = "no_models"

Partitions = Mapping[str, Callable[[], pd.DataFrame]]


def _trained_models(
    model_metrics: pd.DataFrame, partitions: Partitions, features: Sequence[str], what: str
) -> pd.DataFrame:
    """The models of ``model_metrics`` in ``features``, one row each (key = partition id,
    feature, network, target) in the thesis's order; every one must have a partition."""
    _require(model_metrics, MODEL_COLUMNS, "model_metrics")
    models = model_metrics.loc[
        model_metrics["feature"].isin(features), list(MODEL_COLUMNS)
    ].drop_duplicates()
    models = models.sort_values(
        list(MODEL_COLUMNS), key=lambda col: col.map(sort_key), ignore_index=True
    )
    models.insert(0, "key", [model_partition(*row) for row in models.itertuples(index=False)])
    missing = [key for key in models["key"] if key not in partitions]
    if missing:
        raise DataValidationError(
            f"model_metrics lists model(s) {missing} without {what} in data/07_model_output; "
            "retrain them or rebuild model_metrics (kedro run --nodes=collect_model_metrics)"
        )
    return models


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{what} lacks column(s) {missing}; has {list(frame.columns)}")


def plot_vad_histograms(soundtracks: pd.DataFrame, *, bins: int) -> Figure:
    """Histogram of valence, arousal and dominance over the corpus (thesis Fig. 3.4):
    three panels, x = label value in [0, 1], y = number of tracks, mean marked."""
    _require(soundtracks, VAD_LABELS, "soundtracks")
    fig = Figure(figsize=(12, 4), layout="constrained")
    axes = fig.subplots(1, len(VAD_LABELS), sharey=True)
    for ax, label in zip(axes, VAD_LABELS, strict=True):
        values = soundtracks[label].to_numpy(float)
        ax.hist(values, bins=bins, range=(0, 1), color=VAD_COLORS[label], edgecolor="white")
        title = label.capitalize()
        if len(values):
            mean, std = float(values.mean()), float(values.std())
            ax.axvline(mean, color="black", ls="--", lw=1.2, label="mean")
            title += f": mean {mean:.2f} (dashed), std {std:.2f}"
        ax.set_xlim(0, 1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"{label.capitalize()} (0-1)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("Number of tracks")
    fig.suptitle(f"VAD labels over the corpus ({len(soundtracks)} tracks)")
    return fig


def plot_vad_scatter(soundtracks: pd.DataFrame) -> Figure:
    """The corpus in VAD space, one point per track coloured by split (thesis Fig. 3.2):
    one 3-D axes, x = valence, y = arousal, z = dominance, all in [0, 1]."""
    _require(soundtracks, (*VAD_LABELS, "split"), "soundtracks")
    fig = Figure(figsize=(7.5, 7), layout="constrained")
    ax = fig.add_subplot(projection="3d")
    for split in SPLITS:
        rows = soundtracks[soundtracks["split"] == split]
        ax.scatter(
            rows["valence"],
            rows["arousal"],
            rows["dominance"],
            s=16,
            alpha=0.75,
            marker=SPLIT_MARKERS[split],
            label=f"{split} ({len(rows)})",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_zlim(0, 1)
    ax.set_xlabel("Valence")
    ax.set_ylabel("Arousal")
    ax.set_zlabel("Dominance")
    ax.view_init(elev=22, azim=-55)
    ax.set_box_aspect(None, zoom=0.88)
    ax.legend(title="split (tracks)", loc="upper left")
    ax.set_title(f"The corpus in VAD space ({len(soundtracks)} tracks)")
    return fig


def _prediction_rows(models: pd.DataFrame) -> list[tuple[str, str, dict[str, str]]]:
    """Rows of a predicted-vs-true grid: (network, kind, {label: model key}). Models trained on
    one label share a row per network ("per label"); a model trained on several labels gets its
    own row."""
    rows: list[tuple[str, str, dict[str, str]]] = []
    for network, group in models.groupby("network", sort=False):
        single = {
            t: k for t, k in zip(group["target"], group["key"], strict=True) if t in VAD_LABELS
        }
        if single:
            rows.append((network, "per label", single))
        for target, key in zip(group["target"], group["key"], strict=True):
            if target not in VAD_LABELS:
                rows.append((network, target, dict.fromkeys(VAD_LABELS, key)))
    return rows


def _scatter_panel(ax, frame: pd.DataFrame, label: str) -> None:
    """The frames with a true value (songs of a quadrant corpus have none)."""
    valued = np.isfinite(frame["true"].to_numpy(float))
    true = frame["true"].to_numpy(float)[valued]
    predicted = frame["predicted"].to_numpy(float)[valued]
    both = np.concatenate([true, predicted])
    low, high = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
    pad = max(0.02, 0.05 * (high - low))
    low, high = max(0.0, low - pad), min(1.0, high + pad)
    alpha = float(np.clip(300 / max(len(true), 1), 0.08, 0.8))
    ax.scatter(true, predicted, s=8, alpha=alpha, color=VAD_COLORS.get(label, "C0"), lw=0)
    ax.plot([low, high], [low, high], color="red", lw=1.2, label="perfect prediction")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    if len(true) > 1:
        r = metrics.pearson_r(true, predicted)
        text = f"MSE {metrics.mse(true, predicted):.4f}\nr = {r:.2f}\nn = {len(true)} frames"
        ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=8)


def plot_predicted_vs_true(
    model_metrics: pd.DataFrame, test_predictions: Partitions, *, features: Sequence[str]
) -> dict[str, Figure]:
    """Predicted against true label on the test set, one figure per feature family (thesis
    Fig. 5.7): a grid of rows = networks (and multi-label models), columns = valence, arousal,
    dominance; each panel one point per frame and the red diagonal of perfect prediction.

    Draws the models of ``model_metrics`` in ``features``; ``test_predictions``: partition id ->
    loader of long test predictions (``song_id, frame_index, label, true, predicted``).
    Returns ``{"<feature>.png": Figure}`` (one figure saying so when there is no model).
    """
    models = _trained_models(model_metrics, test_predictions, features, "test predictions")
    figures: dict[str, Figure] = {}
    for feature, group in models.groupby("feature", sort=False):
        rows = _prediction_rows(group)
        loaded = {key: test_predictions[key]() for key in group["key"]}
        fig = Figure(figsize=(11, 3.4 * len(rows) + 0.6), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(rows), len(VAD_LABELS), squeeze=False))
        for r, (network, kind, keys) in enumerate(rows):
            for c, label in enumerate(VAD_LABELS):
                ax = axes[r, c]
                key = keys.get(label)
                if key is None:
                    ax.set_axis_off()
                    ax.text(0.5, 0.5, f"no {label} model", ha="center", transform=ax.transAxes)
                    continue
                frame = loaded[key]
                _require(frame, PREDICTION_COLUMNS, f"test predictions {key!r}")
                _scatter_panel(ax, frame[frame["label"] == label], label)
                ax.set_title(f"{display_name(network)} ({kind}): {label}", fontsize=10)
                ax.set_xlabel(f"true {label}")
                ax.set_ylabel(f"predicted {label}")
        axes[0, 0].legend(loc="lower right", fontsize=8)
        fig.suptitle(f"Predicted vs true on the test set, {display_name(feature)} features")
        figures[f"{feature}.png"] = fig
    return figures or _no_models(features)


def plot_training_curves(
    model_metrics: pd.DataFrame, histories: Partitions, *, features: Sequence[str]
) -> dict[str, Figure]:
    """Training and validation loss per epoch, one figure per feature family (thesis Figs.
    5.5-5.6): a grid of rows = networks, columns = training targets; the epoch with the lowest
    validation loss (the one kept) is marked.

    Draws the models of ``model_metrics`` in ``features``; ``histories``: partition id ->
    loader of a history (``epoch, loss, val_loss, ...``). Returns ``{"<feature>.png": Figure}``
    (one figure saying so when there is no model).
    """
    models = _trained_models(model_metrics, histories, features, "history")
    figures: dict[str, Figure] = {}
    for feature, group in models.groupby("feature", sort=False):
        networks = list(dict.fromkeys(group["network"]))
        targets = sorted(dict.fromkeys(group["target"]), key=sort_key)
        fig = Figure(
            figsize=(3.6 * len(targets) + 0.6, 2.9 * len(networks) + 0.6), layout="constrained"
        )
        axes = fig.subplots(len(networks), len(targets), squeeze=False)
        for ax in axes.flat:
            ax.set_axis_off()
        for key, network, target in zip(
            group["key"], group["network"], group["target"], strict=True
        ):
            history = histories[key]()
            _require(history, HISTORY_COLUMNS, f"history {key!r}")
            ax = axes[networks.index(network), targets.index(target)]
            ax.set_axis_on()
            ax.plot(history["epoch"], history["loss"], color="C0", lw=1.5, label="training")
            ax.plot(history["epoch"], history["val_loss"], color="C1", lw=1.5, label="validation")
            if len(history):
                best = history.loc[history["val_loss"].idxmin()]
                ax.plot(best["epoch"], best["val_loss"], "o", color="C1", ms=6, label="best epoch")
            ax.set_title(f"{display_name(network)}: {display_name(target)}", fontsize=10)
            ax.set_yscale("log")  # the first epochs' loss would flatten the rest
            ax.set_xlabel("Epoch")
            ax.set_ylabel("Loss (MSE, log scale)")
            ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize=8)
        fig.suptitle(f"Training and validation loss, {display_name(feature)} features")
        figures[f"{feature}.png"] = fig
    return figures or _no_models(features)


def _no_models(features: Sequence[str]) -> dict[str, Figure]:
    names = ", ".join(display_name(f) for f in features)
    message = f"No trained {names} model in model_metrics.\nRun the modelling pipeline first."
    return {f"{NO_MODELS}.png": _message_figure(message)}


def plot_test_song_timelines(
    vad_timelines: pd.DataFrame,
    inference_waveforms: pd.DataFrame,
    soundtracks: pd.DataFrame,
    *,
    n_songs: int,
) -> dict[str, Figure]:
    """VAD predicted over time above the waveform for the first ``n_songs`` test songs of the
    latest inference run, true labels dashed (thesis Figs. 5.8-5.10). Tracks that are not
    test songs are skipped. Returns ``{"<track>.png": Figure}``, or one figure that says so
    when the inference run had no test song.
    """
    _require(soundtracks, ("id", "track", "artist", "split", *VAD_LABELS), "soundtracks")
    test = soundtracks[soundtracks["split"] == "test"].set_index("id")
    tracks = [t for t in dict.fromkeys(vad_timelines["track"]) if t in test.index][:n_songs]
    figures: dict[str, Figure] = {}
    for track in tracks:
        song = test.loc[track]
        figures[f"{file_name(track)}.png"] = plot_vad_timeline(
            vad_timelines[vad_timelines["track"] == track],
            inference_waveforms[inference_waveforms["track"] == track],
            title=f"{song['track']} - {song['artist']} (test song)",
            true_vad={label: float(song[label]) for label in VAD_LABELS},
        )
    if not figures:
        figures[f"{NO_TEST_SONGS}.png"] = _message_figure(
            "The latest inference run has no test song of the corpus.\n"
            "Run `kedro run --pipelines=inference` with the default audio_path to draw them."
        )
    return figures


def _message_figure(message: str) -> Figure:
    fig = Figure(figsize=(8, 2))
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=11)
    return fig
