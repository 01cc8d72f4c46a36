"""The reporting pipeline's wiring, and one run through the project's real catalog entries."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from soundtrack_emotion.pipelines.reporting import create_pipeline
from soundtrack_emotion.vad import VAD_LABELS

PROJECT = Path(__file__).resolve().parents[3]


def _config() -> OmegaConfigLoader:
    return OmegaConfigLoader(
        conf_source=str(PROJECT / "conf"), base_env="base", default_run_env="base"
    )


def test_offline_reporting_reads_no_vggish_output():
    offline = create_pipeline(features=("mfcc",))
    default = create_pipeline()

    assert not [name for name in offline.inputs() if "vggish" in name]
    assert not offline.only_nodes_with_tags("vggish").nodes
    assert {"vggish_lstm.valence.history", "vggish_cnn.dominance.test_predictions"} <= set(
        default.inputs()
    )
    assert {n.name for n in default.only_nodes_with_tags("vggish").nodes} >= {
        "plot_predicted_vs_true",
        "plot_training_curves",
    }


def test_every_reporting_output_is_catalogued_in_the_reporting_layer():
    catalog = _config()["catalog"]
    pipeline = create_pipeline()
    produced = pipeline.all_outputs() | {n for n in pipeline.inputs() if n.endswith("@png")}
    for name in produced:
        entry = catalog[name]
        assert entry["metadata"]["kedro-viz"]["layer"] == "reporting", name
        location = entry.get("filepath") or entry.get("path")
        assert location.startswith("data/08_reporting/"), name


@pytest.mark.filterwarnings("ignore:.*dot notation.*:UserWarning")
def test_reporting_run_writes_tables_figures_and_the_html_page(
    tmp_path,
    monkeypatch,
    soundtracks,
    model_metrics,
    make_predictions,
    make_history,
    make_timeline,
    make_waveform,
):
    config = _config()
    monkeypatch.chdir(tmp_path)  # catalog paths are relative to the project root
    catalog = DataCatalog.from_config(config["catalog"], config["credentials"])
    pipeline = create_pipeline(features=("mfcc",))
    test_song = soundtracks.loc[soundtracks["split"] == "test", "id"].iloc[0]
    inputs = {
        "soundtracks": soundtracks,
        "model_metrics": model_metrics[model_metrics["feature"] == "mfcc"],
        "dataset_report": {"tracks": {"kept": len(soundtracks)}},
        "vad_timelines": make_timeline(test_song, 33.0),
        "inference_waveforms": make_waveform(test_song, 33.0),
    }
    for name in pipeline.inputs():
        if name.startswith("params:"):
            key = name.removeprefix("params:").split(".")
            catalog[name] = config["parameters"][key[0]][key[1]]
        elif name.endswith(".history"):
            catalog[name] = make_history()
        elif name.endswith(".test_predictions"):
            label = name.split(".")[1]
            catalog[name] = make_predictions(list(VAD_LABELS) if label == "joint" else [label])
        else:
            catalog[name] = inputs[name]

    SequentialRunner().run(pipeline, catalog)

    reporting = tmp_path / "data/08_reporting"
    table = pd.read_csv(reporting / "results_table.csv")
    assert len(table) == (model_metrics["feature"] == "mfcc").sum()
    assert table.groupby(["level", "emotion"])["best"].sum().eq(1).all()
    assert (reporting / "results_table.md").read_text().startswith("# Results on the test set")
    figures = sorted(p.relative_to(reporting).as_posix() for p in reporting.rglob("*.png"))
    assert figures == [
        "figures/predicted_vs_true/mfcc.png",
        f"figures/test_song_timelines/{test_song.replace(':', '_')}.png",
        "figures/training_curves/mfcc.png",
        "figures/vad_histograms.png",
        "figures/vad_scatter_3d.png",
    ]
    page = (reporting / "report.html").read_text()
    images = re.findall(r'<img [^>]*src="data:image/png;base64,', page)
    assert len(images) == len(figures)
    assert "<table>" in page
