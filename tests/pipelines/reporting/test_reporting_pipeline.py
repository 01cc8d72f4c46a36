"""The reporting pipeline's wiring, and one run through the project's real catalog entries."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.io.catalog_config_resolver import CatalogConfigResolver
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.pipelines.reporting import create_pipeline
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
from soundtrack_emotion.runtime.provenance import STALE_COLUMNS, corpus_fingerprint

PROJECT = Path(__file__).resolve().parents[3]


def _config() -> OmegaConfigLoader:
    return OmegaConfigLoader(
        conf_source=str(PROJECT / "conf"), base_env="base", default_run_env="base"
    )


def test_figures_read_trained_models_through_model_metrics_not_per_model_inputs():
    offline = create_pipeline(features=("mfcc",))
    default = create_pipeline()

    assert not [name for name in offline.inputs() if "vggish" in name]
    assert not offline.only_nodes_with_tags("vggish").nodes
    for pipeline in (offline, default):
        assert not [name for name in pipeline.inputs() if name.count(".") >= 2]
        assert {"model_metrics", "model_histories", "model_test_predictions"} <= pipeline.inputs()
    assert {n.name for n in default.only_nodes_with_tags("vggish").nodes} >= {
        "plot_predicted_vs_true",
        "plot_training_curves",
    }


def test_model_output_folders_are_partitioned_by_model(tmp_path, monkeypatch, make_history):
    monkeypatch.chdir(tmp_path)
    catalog = _catalog()
    catalog.save("mfcc_cnn.valence.history", make_history())
    # other files of the same folder are not models' histories
    for other in ("tensorboard/mfcc_cnn/valence/train/events.out", "inference/vad_timelines.csv"):
        (tmp_path / "data/07_model_output" / other).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data/07_model_output" / other).write_text("epoch\n1\n")

    histories = catalog.load("model_histories")

    assert list(histories) == ["mfcc_cnn/valence"]
    pd.testing.assert_frame_equal(histories["mfcc_cnn/valence"](), make_history())


def test_every_reporting_output_is_catalogued_in_the_reporting_layer():
    catalog = _config()["catalog"]
    pipeline = create_pipeline()
    produced = pipeline.all_outputs() | {n for n in pipeline.inputs() if n.endswith("@png")}
    # Kedro's own resolution: an entry of its own, else the factory it matches.
    resolver = CatalogConfigResolver({k: v for k, v in catalog.items() if "credentials" not in v})
    for name in produced:
        entry = resolver.resolve_pattern(name)
        assert entry["metadata"]["kedro-viz"]["layer"] == "reporting", name
        if entry["type"] == "MemoryDataset":
            continue  # passed between nodes only
        # a dataset that kedro-mlflow also logs to the run wraps the file's dataset
        entry = entry.get("dataset", entry) if "Mlflow" in entry["type"] else entry
        location = entry.get("filepath") or entry.get("path")
        assert location.startswith("data/08_reporting/"), name


def _catalog() -> DataCatalog:
    config = _config()
    return DataCatalog.from_config(config["catalog"], config["credentials"])


def _write_trained_models(catalog, models, make_predictions, make_history) -> None:
    """Each model's history and test predictions where the modelling pipeline writes them."""
    for feature, network, target in models:
        labels = list(VAD_LABELS) if target == "joint" else [target]
        catalog.save(f"{feature}_{network}.{target}.history", make_history())
        catalog.save(f"{feature}_{network}.{target}.test_predictions", make_predictions(labels))


def _stamped(model_metrics, soundtracks, config):
    """``model_metrics`` as collect_model_metrics writes it for models trained on
    ``soundtracks`` with conf/base's features (rows already stamped are kept as they are)."""
    if "corpus_fingerprint" in model_metrics:
        return model_metrics
    params = ExtractionParams.from_dict(config["parameters"]["feature_extraction"])
    return model_metrics.assign(
        corpus_kind="demo",
        corpus_fingerprint=corpus_fingerprint(soundtracks),
        features_fingerprint=model_metrics["feature"].map(params.fingerprint),
    )


@pytest.mark.filterwarnings("ignore:.*dot notation.*:UserWarning")
def test_reporting_leaves_models_of_another_corpus_out_and_lists_them_as_stale(
    tmp_path, monkeypatch, soundtracks, model_metrics, make_predictions, make_history,
    make_timeline, make_waveform,
):  # fmt: skip
    """The raw layer was swapped for another corpus (new soundtracks) but model_metrics is
    the old run's: the report shows none of its models, lists them as stale, and says which
    corpus it describes."""
    monkeypatch.chdir(tmp_path)
    _write_trained_models(_catalog(), MFCC_MODELS, make_predictions, make_history)
    mfcc_metrics = _stamped(model_metrics[model_metrics["feature"] == "mfcc"], soundtracks,
                            _config())  # fmt: skip
    other_corpus = soundtracks.assign(valence=soundtracks["valence"][::-1].to_numpy())
    _run_reporting(tmp_path, create_pipeline(features=("mfcc",)), mfcc_metrics, other_corpus,
                   make_timeline, make_waveform)  # fmt: skip

    reporting = tmp_path / "data/08_reporting"
    assert pd.read_csv(reporting / "results_table.csv").empty
    page = (reporting / "report.html").read_text()
    assert "Stale models" in page and "trained on another corpus" in page
    assert "mfcc_cnn.valence" in page
    assert f"fingerprint {corpus_fingerprint(other_corpus)}" in page
    assert "real (30 tracks" in page  # no demo ground truth in this project
    assert "Date" in page and "Code version" in page


def _run_reporting(tmp_path, pipeline, model_metrics, soundtracks, make_timeline, make_waveform):
    """Run ``pipeline`` on the project's catalog in ``tmp_path``; return the PNGs written."""
    config = _config()
    catalog = _catalog()
    catalog.save("model_metrics", _stamped(model_metrics, soundtracks, config))
    catalog.save("stale_models", pd.DataFrame(columns=list(STALE_COLUMNS)))
    test_song = soundtracks.loc[soundtracks["split"] == "test", "id"].iloc[0]
    in_memory = {
        "soundtracks": soundtracks,
        "dataset_report": {"tracks": {"kept": len(soundtracks)}},
        "vad_timelines": make_timeline(test_song, 33.0),
        "inference_waveforms": make_waveform(test_song, 33.0),
    }
    for name in pipeline.inputs():
        if name.startswith("params:"):
            value = config["parameters"]
            for key in name.removeprefix("params:").split("."):
                value = value[key]
            catalog[name] = value
        elif name in in_memory:
            catalog[name] = in_memory[name]

    SequentialRunner().run(pipeline, catalog)

    reporting = tmp_path / "data/08_reporting"
    return sorted(p.relative_to(reporting).as_posix() for p in reporting.rglob("*.png"))


MFCC_MODELS = [("mfcc", network, label) for network in ("cnn", "lstm") for label in VAD_LABELS]


@pytest.mark.filterwarnings("ignore:.*dot notation.*:UserWarning")
def test_reporting_after_an_offline_run_needs_no_vggish_file(
    tmp_path,
    monkeypatch,
    soundtracks,
    model_metrics,
    make_predictions,
    make_history,
    make_timeline,
    make_waveform,
):
    monkeypatch.chdir(tmp_path)  # catalog paths are relative to the project root
    _write_trained_models(_catalog(), MFCC_MODELS, make_predictions, make_history)
    mfcc_metrics = model_metrics[model_metrics["feature"] == "mfcc"]

    # the full reporting pipeline (VGGish figures included) with MFCC models only on disk
    figures = _run_reporting(
        tmp_path, create_pipeline(), mfcc_metrics, soundtracks, make_timeline, make_waveform
    )

    reporting = tmp_path / "data/08_reporting"
    table = pd.read_csv(reporting / "results_table.csv")
    assert len(table) == len(mfcc_metrics)
    assert table.groupby(["level", "emotion"])["best"].sum().eq(1).all()
    assert (reporting / "results_table.md").read_text().startswith("# Results on the test set")
    test_song = soundtracks.loc[soundtracks["split"] == "test", "id"].iloc[0]
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


@pytest.mark.filterwarnings("ignore:.*dot notation.*:UserWarning")
def test_reporting_draws_every_model_of_model_metrics_joint_models_included(
    tmp_path,
    monkeypatch,
    soundtracks,
    make_metric_row,
    make_predictions,
    make_history,
    make_timeline,
    make_waveform,
):
    monkeypatch.chdir(tmp_path)
    listed = [("mfcc", "cnn", "valence"), ("mfcc", "transformer", "joint")]
    _write_trained_models(
        _catalog(), [*listed, ("mfcc", "lstm", "valence")], make_predictions, make_history
    )
    model_metrics = pd.DataFrame(
        [
            make_metric_row(feature, network, target, label, level, 0.01)
            for feature, network, target in listed
            for label in (VAD_LABELS if target == "joint" else (target,))
            for level in ("frame", "song")
        ]
    )
    drawn = {}
    monkeypatch.setattr(Figure, "savefig", _recording_savefig(Figure.savefig, drawn))

    _run_reporting(
        tmp_path,
        create_pipeline(features=("mfcc",)),
        model_metrics,
        soundtracks,
        make_timeline,
        make_waveform,
    )

    # the joint model has its own row; the LSTM on disk but not in model_metrics is not drawn
    assert drawn["Predicted vs true on the test set, MFCC features"] == [
        "CNN (per label): valence",
        *(f"Transformer (joint): {label}" for label in VAD_LABELS),
    ]
    assert drawn["Training and validation loss, MFCC features"] == [
        "CNN: valence",
        "Transformer: joint (V, A, D)",
    ]
    table = pd.read_csv(tmp_path / "data/08_reporting/results_table.csv")
    assert set(table["network"]) == {"cnn", "transformer"}


def _recording_savefig(savefig, drawn: dict):
    """``Figure.savefig`` that also records the visible panels' titles per figure title."""

    def record(fig, fname, *args, **kwargs):
        drawn[fig.get_suptitle()] = [ax.get_title() for ax in fig.axes if ax.axison]
        return savefig(fig, fname, *args, **kwargs)

    return record
