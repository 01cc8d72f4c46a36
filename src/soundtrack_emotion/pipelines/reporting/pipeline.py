"""Reporting pipeline: tables and figures of the thesis, then one HTML page with all of them.

Figures are saved through ``matplotlib.MatplotlibDataset`` (``<name>@figure``) and read back
for the HTML page as images (``<name>@png``, Kedro transcoding of the same files), so the page
can be rebuilt on its own: ``kedro run --pipelines=reporting --nodes=build_html_report``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline

from soundtrack_emotion.core.families import FEATURES
from soundtrack_emotion.pipelines.reporting.figures import (
    plot_predicted_vs_true,
    plot_test_song_timelines,
    plot_training_curves,
    plot_vad_histograms,
    plot_vad_scatter,
)
from soundtrack_emotion.pipelines.reporting.nodes import (
    FIGURE_SECTIONS,
    build_html_report,
    build_results_table,
    describe_report,
    results_markdown,
)
from soundtrack_emotion.runtime.provenance import current_model_metrics


def _for_features(func: Callable[..., Any], features: Sequence[str]) -> Callable[..., Any]:
    """``func`` drawing only ``features``, keeping its name and docstring for kedro-viz."""
    return update_wrapper(partial(func, features=tuple(features)), func)


def create_pipeline(*, features: Sequence[str] = FEATURES, **kwargs: Any) -> Pipeline:
    """Tables, figures and the HTML report for the trained models listed in ``model_metrics``;
    the figures draw the feature families in ``features`` (``offline`` passes ``("mfcc",)``)
    and load only those models' partitions of ``model_test_predictions`` / ``model_histories``.
    """
    model_tags = ["vggish"] if "vggish" in features else []
    return Pipeline(
        [
            # model_metrics may predate a change of corpus or features: report current models
            # only, and list the others as stale.
            Node(
                current_model_metrics,
                inputs=["model_metrics", "soundtracks", "params:feature_extraction",
                        "stale_models"],
                outputs=["reported_model_metrics", "reported_stale_models"],
                name="select_current_models",
            ),
            Node(
                describe_report,
                inputs=["reported_model_metrics", "reported_stale_models", "soundtracks",
                        "corpus_is_demo", "params:modelling"],
                outputs="report_context",
                name="describe_report",
            ),
            Node(
                build_results_table,
                inputs={
                    "model_metrics": "reported_model_metrics",
                    "levels": "params:reporting.table_levels",
                },
                outputs="results_table",
                name="build_results_table",
            ),
            Node(results_markdown, "results_table", "results_markdown", name="results_markdown"),
            Node(
                plot_vad_histograms,
                inputs={"soundtracks": "soundtracks", "bins": "params:reporting.histogram_bins"},
                outputs="vad_histograms@figure",
                name="plot_vad_histograms",
            ),
            Node(plot_vad_scatter, "soundtracks", "vad_scatter_3d@figure", name="plot_vad_scatter"),
            Node(
                _for_features(plot_predicted_vs_true, features),
                inputs={
                    "model_metrics": "reported_model_metrics",
                    "test_predictions": "model_test_predictions",
                },
                outputs="predicted_vs_true@figure",
                name="plot_predicted_vs_true",
                tags=model_tags,
            ),
            Node(
                _for_features(plot_training_curves, features),
                inputs={"model_metrics": "reported_model_metrics", "histories": "model_histories"},
                outputs="training_curves@figure",
                name="plot_training_curves",
                tags=model_tags,
            ),
            Node(
                plot_test_song_timelines,
                inputs={
                    "vad_timelines": "vad_timelines",
                    "inference_waveforms": "inference_waveforms",
                    "soundtracks": "soundtracks",
                    "n_songs": "params:reporting.n_test_songs",
                },
                outputs="test_song_timelines@figure",
                name="plot_test_song_timelines",
                tags=model_tags,
            ),
            Node(
                build_html_report,
                inputs={
                    "results_table": "results_table",
                    "dataset_report": "dataset_report",
                    "title": "params:reporting.title",
                    "context": "report_context",
                    "cv_metrics": "cv_metrics",
                    "corpus_metrics": "corpus_metrics",
                    **{name: f"{name}@png" for name in FIGURE_SECTIONS},
                },
                outputs="report_html",
                name="build_html_report",
                tags=model_tags,
            ),
        ],
        tags=["reporting"],
    )
