"""The template pipeline: namespaces, catalog factories, feature selection, and a tiny run."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from soundtrack_emotion.core.families import FEATURES
from soundtrack_emotion.core.model_files import sha256_hex
from soundtrack_emotion.core.vocabulary import NETWORKS, TARGETS, VAD_LABELS
from soundtrack_emotion.exceptions import ModelUnavailableError, ParameterError
from soundtrack_emotion.pipelines.modelling import create_pipeline
from soundtrack_emotion.pipelines.modelling.nodes import (
    MODEL_METRICS_COLUMNS,
    ModelSpec,
    evaluate_model,
)
from soundtrack_emotion.pipelines.modelling.pipeline import DEFAULT_NETWORKS, DEFAULT_TARGETS
from soundtrack_emotion.runtime.provenance import corpus_fingerprint
from soundtrack_emotion.runtime.tracking import load_registered_keras

from .conftest import (
    PROJECT_ROOT,
    corpus_table,
    feature_parameters,
    with_provenance,
    write_model_inputs,
)

EVERYTHING = create_pipeline(features=FEATURES, networks=NETWORKS, targets=tuple(TARGETS))
OUTPUT_KINDS = {
    # written from the bytes whose SHA-256 the metrics record (the model itself stays in memory)
    "model_file": ("KerasModelDataset", "data/06_models/{variant}/{target}.keras"),
    "history": ("CSVDataset", "data/07_model_output/{variant}/{target}_history.csv"),
    "test_predictions": (
        "ParquetDataset",
        "data/07_model_output/{variant}/{target}_test_predictions.parquet",
    ),
    "metrics": ("JSONDataset", "data/08_reporting/metrics/{variant}/{target}.json"),
}


@pytest.fixture(scope="module")
def project_config():
    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")
    return loader["catalog"], loader["parameters"]


def _catalog(catalog_config) -> DataCatalog:
    """The project's catalog, with empty credentials for the API entries (never materialised)."""
    names = {entry["credentials"] for entry in catalog_config.values() if "credentials" in entry}
    return DataCatalog.from_config(catalog_config, credentials={name: {} for name in names})


def _persisted(pipeline) -> set[str]:
    """Datasets a pipeline writes other than in-memory intermediates."""
    return {name for name in pipeline.all_outputs() if name.split(".")[-1] in OUTPUT_KINDS}


def test_every_variant_output_is_a_distinct_catalog_entry(project_config):
    catalog = _catalog(project_config[0])
    outputs = _persisted(EVERYTHING)
    assert len(outputs) == len(FEATURES) * len(NETWORKS) * len(TARGETS) * len(OUTPUT_KINDS)
    paths = set()
    for name in outputs:
        variant, target, kind = name.split(".")
        dataset_type, path = OUTPUT_KINDS[kind]
        described = catalog[name]._describe()
        assert type(catalog[name]).__name__ == dataset_type
        if dataset_type == "CachedDataset":
            described = described["dataset"]
        assert str(described["filepath"]).endswith(path.format(variant=variant, target=target))
        paths.add(str(described["filepath"]))
    assert len(paths) == len(outputs)
    assert type(catalog["model_metrics"]).__name__ == "ParquetDataset"
    # the intermediates stay in memory: no catalog pattern (e.g. "{feature}_{seconds}s") grabs them
    references = {f"{feature}_domain_reference" for feature in FEATURES}
    assert references <= EVERYTHING.all_outputs()
    for name in references:
        assert type(catalog[name]).__name__ == "DomainReferenceDataset"
    assert len({str(catalog[name]._describe()["filepath"]) for name in references}) == len(FEATURES)
    intermediates = (
        EVERYTHING.all_outputs() - outputs - references
        - {"model_metrics", "stale_models", "cv_metrics", "corpus_metrics"}
    )  # fmt: skip
    assert type(catalog["stale_models"]).__name__ == "CSVDataset"
    assert type(catalog["cv_metrics"]).__name__ == "OptionalTableDataset"
    assert type(catalog["corpus_metrics"]).__name__ == "OptionalTableDataset"
    assert {name.split(".")[-1] for name in intermediates} == {
        "model_input",
        "feature_normaliser",
        "mean_baseline",
        "provenance",
        "evaluation",
        "cv_metrics",
        "cv_residuals",  # the CV's out-of-fold residuals, which calibrate the ridge's intervals
        "calibration",  # the conformal half-widths, into the metrics report
        "model",
        "model_sha256",
    }
    # the trained model stays in memory as it is (declared only to skip Kedro's deep copy)
    models = {name for name in intermediates if name.endswith(".model")}
    assert {type(catalog[name]).__name__ for name in models} == {"MemoryDataset"}
    assert not [name for name in intermediates - models if name in catalog]


def test_parameters_resolve_against_conf_base(project_config):
    parameters = project_config[1]
    for name in EVERYTHING.inputs():
        if name.startswith("params:"):
            value = parameters
            for key in name.removeprefix("params:").split("."):
                value = value[key]
    assert parameters["modelling"]["frame_seconds"] in (15, 30)


def test_variant_namespace_selects_one_variant():
    pipeline = create_pipeline()
    selected = pipeline.only_nodes_with_namespaces(["vggish_lstm"])
    trained = sorted(n.name for n in selected.nodes if n.name.endswith(".train_model"))
    assert trained == [f"vggish_lstm.{label}.train_model" for label in sorted(DEFAULT_TARGETS)]
    assert selected.inputs() >= {"vggish_15s", "vggish_30s", "params:modelling.networks.lstm"}
    assert all("vggish" in n.tags for n in selected.nodes)


def test_one_model_namespace_is_self_contained():
    selected = EVERYTHING.only_nodes_with_namespaces(["mfcc_cnn.joint"])
    assert {n.name.split(".")[-1] for n in selected.nodes} == {
        "select_frame_length",
        "fit_feature_normaliser",
        "fit_mean_baseline",
        "train_model",
        "serialise_model",
        "predict_test_split",
        "cross_validate",
        "calibrate_intervals",
        "record_provenance",
        "evaluate_model",
        "track_model",
    }
    # it needs nothing but catalogued datasets: the model inputs, the corpus and parameters
    assert {n for n in selected.inputs() if not n.startswith("params:")} == {
        "mfcc_15s",
        "mfcc_30s",
        "soundtracks",
        "corpus_is_demo",
    }


def test_offline_features_build_no_vggish_node():
    pipeline = create_pipeline(features=("mfcc",))
    assert not [n for n in pipeline.nodes if "vggish" in n.name or "vggish" in n.tags]
    assert not [name for name in pipeline.all_inputs() if name.startswith("vggish")]
    assert {n.namespace.split(".")[0] for n in pipeline.nodes if n.namespace} == {
        f"mfcc_{network}" for network in DEFAULT_NETWORKS
    }


def test_unknown_names_raise():
    with pytest.raises(ParameterError, match="unknown or no networks \\['gru'\\]"):
        create_pipeline(networks=("gru",))
    with pytest.raises(ParameterError, match="unknown or no features"):
        create_pipeline(features=())


def test_tiny_run_writes_the_contract_outputs(
    project_config, modelling_parameters, tiny_networks, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the catalog's relative paths now land under tmp_path
    for seconds, frame_shape in ((15, (6, 4)), (30, (12, 4))):
        written = write_model_inputs(
            tmp_path / f"data/05_model_input/mfcc_{seconds}s", frame_shape=frame_shape
        )
    # the corpus of the model inputs' songs (the test predictions carry their groups)
    songs = np.unique(np.concatenate(list(written.song_id.values())))
    soundtracks = corpus_table(len(songs)).assign(id=songs)
    catalog = _catalog(project_config[0])
    parameters = {**modelling_parameters, "networks": tiny_networks, "frame_seconds": 30}
    for name, value in _flatten("modelling", parameters):
        catalog[f"params:{name}"] = value
    catalog["params:feature_extraction"] = feature_parameters()
    catalog.save("soundtracks", soundtracks)
    pipeline = create_pipeline(features=("mfcc",), networks=("cnn",), targets=("valence", "joint"))
    # As kedro-mlflow runs it: one MLflow run per kedro run, a local SQLite store.
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns.db'}")
    experiment = mlflow.create_experiment("test", artifact_location=str(tmp_path / "artifacts"))
    try:
        with mlflow.start_run(experiment_id=experiment) as parent:
            SequentialRunner().run(pipeline, catalog)
        _check_mlflow_runs(parent.info.run_id, experiment, parameters, soundtracks)
    finally:
        mlflow.set_tracking_uri(None)

    table = pd.read_parquet("data/08_reporting/model_metrics.parquet")
    # the split-conformal intervals of modelling.intervals.levels follow the fixed columns
    intervals = ("calibration_n", "halfwidth_80", "halfwidth_90", "coverage_80", "coverage_90")
    assert tuple(table.columns) == (*MODEL_METRICS_COLUMNS, *intervals)
    assert (table["calibration_n"] > 0).all()
    assert (table["halfwidth_80"] <= table["halfwidth_90"]).all()
    assert table[["coverage_80", "coverage_90"]].stack().between(0, 1).all()
    assert len(table) == (1 + 3) * 2  # valence + joint's three labels, at two levels
    assert set(table["frame_seconds"]) == {30}
    assert set(zip(table["target"], table["label"], strict=True)) == {
        ("valence", "valence"),
        ("joint", "valence"),
        ("joint", "arousal"),
        ("joint", "dominance"),
    }
    report = json.loads((tmp_path / "data/08_reporting/metrics/mfcc_cnn/joint.json").read_text())
    assert report["labels"] == ["valence", "arousal", "dominance"]
    assert report["intervals"]["levels"] == [0.8, 0.9]
    predictions = pd.read_parquet("data/07_model_output/mfcc_cnn/joint_test_predictions.parquet")
    assert len(predictions) == 3 * 8 * 3  # labels x test songs x frames per song
    assert (tmp_path / "data/06_models/mfcc_cnn/valence.keras").is_file()
    assert (tmp_path / "data/07_model_output/tensorboard/mfcc_cnn/joint").is_dir()
    # the metrics and provenance carry the hash of exactly the file that was written
    for target in ("valence", "joint"):
        written = sha256_hex((tmp_path / f"data/06_models/mfcc_cnn/{target}.keras").read_bytes())
        assert set(table.loc[table["target"] == target, "model_sha256"]) == {written}
        report = json.loads((tmp_path / f"data/08_reporting/metrics/mfcc_cnn/{target}.json")
                            .read_text())  # fmt: skip
        assert report["provenance"]["model"]["sha256"] == written


def _check_mlflow_runs(parent_id, experiment, parameters, soundtracks):
    """Read the runs back through the MLflow client: one nested run per model holding its
    parameters, frame/song metrics with baselines and intervals, history, provenance and
    the registered model."""
    client = mlflow.MlflowClient()
    runs = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent_id}'")
    by_name = {run.info.run_name: run for run in runs}
    assert set(by_name) == {"mfcc_cnn.valence", "mfcc_cnn.joint"}
    run = by_name["mfcc_cnn.valence"]
    assert run.data.params["network"] == "cnn" and run.data.params["seed"] == "2023"
    assert run.data.params["training.learning_rate"] == str(
        parameters["networks"]["cnn"]["training"]["learning_rate"]
    )
    metrics = run.data.metrics
    for key in ("song_valence_r2", "song_valence_baseline_r2", "song_valence_r2_ci_low",
                "song_valence_r2_ci_high", "frame_valence_mse", "frame_valence_baseline_mse"):
        assert key in metrics, key  # fmt: skip
    assert metrics["song_valence_r2_ci_low"] <= metrics["song_valence_r2_ci_high"]
    assert len(client.get_metric_history(run.info.run_id, "val_song_loss")) >= 1
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"history.csv", "provenance.json", "metrics.json"} <= artifacts
    provenance = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/provenance.json")
    assert provenance["corpus"]["fingerprint"] == corpus_fingerprint(soundtracks)
    assert provenance["corpus"]["kind"] == "real"  # no demo ground truth in this project
    assert provenance["packages"]["tensorflow"]
    assert set(provenance["code"]) == {"git_commit", "git_dirty"}
    version = client.get_model_version("soundtrack_emotion.mfcc_cnn.valence", "1")
    assert version.run_id == run.info.run_id
    assert version.tags["corpus.fingerprint"] == provenance["corpus"]["fingerprint"]
    table = pd.read_parquet("data/08_reporting/model_metrics.parquet")
    assert set(table["mlflow_run_id"]) == {r.info.run_id for r in runs}
    assert set(table["model_version"]) == {"1"}
    # the registered artefact is the model file's bytes, tagged with their hash
    assert version.tags["model.sha256"] == provenance["model"]["sha256"]
    # the registered model loads back as inference loads it (checked), and predicts
    uri = "models:/soundtrack_emotion.mfcc_cnn.valence/1"
    model = load_registered_keras(uri, version.tags["model.sha256"])
    assert model.input_shape[1:] == (12, 4)
    with pytest.raises(ModelUnavailableError, match="is not the file its metrics were recorded"):
        load_registered_keras(uri, "0" * 64)


def _flatten(prefix, value):
    yield prefix, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(f"{prefix}.{key}", item)


def test_modelling_all_offers_every_variant_and_target():
    from soundtrack_emotion.pipelines import modelling_all

    trained = {
        n.namespace for n in modelling_all.create_pipeline().nodes if n.name.endswith("train_model")
    }
    assert len(trained) == len(FEATURES) * len(NETWORKS) * len(TARGETS)
    assert "mfcc_transformer.joint" in trained
    offline = modelling_all.create_pipeline(features=("mfcc",))
    assert not [n for n in offline.nodes if "vggish" in n.tags]


def test_collect_is_ordered_after_this_pipelines_models_and_reads_the_metrics_folder():
    offline = create_pipeline(features=("mfcc",))
    (collect,) = offline.filter(node_names=["collect_model_metrics"]).nodes
    assert collect.inputs[:3] == ["model_metric_files", "soundtracks", "params:feature_extraction"]
    assert set(collect.inputs[3:]) == {
        f"mfcc_{network}.{label}.metrics" for network in DEFAULT_NETWORKS for label in VAD_LABELS
    } | {"mfcc_domain_reference"}  # so inference, after the table, finds this run's reference


def _report(feature, network, target):
    labels = TARGETS[target]
    predictions = pd.concat(
        pd.DataFrame(
            {
                "song_id": ["a", "b", "c"],
                "frame_index": 0,
                "label": label,
                "true": [0.2, 0.5, 0.8],
                "predicted": [0.3, 0.5, 0.6],
            }
        )
        for label in labels
    )
    history = pd.DataFrame(
        {"epoch": [1, 2], "loss": [0.2, 0.1], "val_loss": [0.3, 0.2], "mae": [0.3, 0.2],
         "val_mae": [0.4, 0.3], "seconds": [1.0, 1.0]}
    )  # fmt: skip
    spec = ModelSpec(feature, network, target)
    report = evaluate_model(predictions, dict.fromkeys(labels, 0.5), history, 15, spec=spec)
    return with_provenance(report)


def test_collect_node_alone_tables_models_trained_by_another_run(
    project_config, tmp_path, monkeypatch
):
    """`kedro run --pipelines=offline --nodes=collect_model_metrics` after
    `modelling_all --namespaces=mfcc_transformer.joint`: the table has the joint model too."""
    monkeypatch.chdir(tmp_path)
    catalog = _catalog(project_config[0])
    catalog["params:feature_extraction"] = feature_parameters()
    catalog.save("soundtracks", corpus_table())
    trained = [("mfcc", n, label) for n in DEFAULT_NETWORKS for label in VAD_LABELS]
    for model in [*trained, ("mfcc", "transformer", "joint")]:
        catalog.save("{}_{}.{}.metrics".format(*model), _report(*model))
    pipeline = create_pipeline(features=("mfcc",)).filter(node_names=["collect_model_metrics"])

    SequentialRunner().run(pipeline, catalog)

    table = pd.read_parquet(tmp_path / "data/08_reporting/model_metrics.parquet")
    models = table[["feature", "network", "target"]].drop_duplicates()
    assert len(models) == len(trained) + 1
    joint = table[table["target"] == "joint"]
    assert set(joint["network"]) == {"transformer"}
    assert sorted(joint["label"]) == sorted(VAD_LABELS * 2)  # three labels at two levels
    assert not table.duplicated(["feature", "network", "target", "label", "level"]).any()
