"""The product end to end: ``make demo``'s ``kedro run --pipelines=offline --env demo`` in a
fresh Kedro session (a subprocess, through the project's settings.py, hooks and logging.yml),
further reduced (a few dozen short tracks, one epoch per model), then its catalogued outputs
checked for existence and validity, its console checked for quietness, and its models checked
to beat the predict-the-mean baseline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from soundtrack_emotion.core.families import OFFLINE_FEATURES
from soundtrack_emotion.core.vocabulary import SPLITS, VAD_LABELS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
N_TRACKS = 32  # well-formed tracks; the demo's 7 bad entries come on top
SMOKE_PARAMS = {
    "demo.n_tracks": N_TRACKS,
    "demo.min_seconds": 20.0,
    "demo.max_seconds": 24.0,
    "demo.min_tracks_per_artist": 2,
    "demo.max_tracks_per_artist": 3,
    # 15 s frames every 3.75 s: two or three per track, so the heads have frames to learn from
    "feature_extraction.framing.hop": 0.25,
    "modelling.networks.cnn.training.epochs": 1,
    "modelling.networks.lstm.training.epochs": 1,
    "modelling.networks.mlp.training.epochs": 1,
}
CONSOLE_NOISE = (
    *("Saving data to", "Loading data from", "cuda", "cuInit", "absl", "retracing"),
    # kedro-mlflow and MLflow set their own loggers' levels when imported (console.py)
    *("Registering new custom resolver", "Mlflow run", "mlflow.store", "database tables"),
)


@dataclass
class SmokeRun:
    project: Path
    output: str
    catalog: DataCatalog


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> SmokeRun:
    """A copy of the project (configuration only: the code is this checkout's) with an empty
    data folder, after one ``kedro run --pipelines=offline --env demo``."""
    project = tmp_path_factory.mktemp("smoke_project")
    shutil.copytree(PROJECT_ROOT / "conf", project / "conf", ignore=_local_conf)
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT_ROOT / name, project / name)
    (project / "src").mkdir()  # Kedro requires it; the package comes from PYTHONPATH
    # The console the product gives by default: not TensorFlow's log level of this shell.
    inherited = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env = {
        **inherited,
        "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_ROOT / "src"), os.environ.get("PYTHONPATH", "")]
        ),
        "KEDRO_DISABLE_TELEMETRY": "1",
        "COLUMNS": "100",
    }
    params = ",".join(f"{key}={value}" for key, value in SMOKE_PARAMS.items())
    command = [sys.executable, "-m", "kedro", "run", "--pipelines=offline", "--env", "demo"]
    command += ["--params", params]
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    output = done.stdout + done.stderr
    (project / "console.log").write_text(output)  # kept with the project, for a failure
    assert done.returncode == 0, output[-6000:]
    return _smoke_run(project)


def _smoke_run(project: Path) -> SmokeRun:
    config = OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="local")
    catalog = DataCatalog.from_config(config["catalog"], credentials=config["credentials"])
    return SmokeRun(project, (project / "console.log").read_text(), catalog)


def _local_conf(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if Path(directory).name == "local" and n != ".gitkeep"]


@pytest.fixture
def in_project(smoke_run: SmokeRun, monkeypatch: pytest.MonkeyPatch) -> DataCatalog:
    """The smoke run's catalog, with the working directory its project (paths are relative)."""
    monkeypatch.chdir(smoke_run.project)
    return smoke_run.catalog


def test_the_console_shows_one_line_per_node_and_a_closing_summary(smoke_run):
    # Piped, long steps print plain progress lines (a tenth each), never a carriage return.
    progress = re.compile(
        r"^(features|inference|run): \d+/\d+ (tracks|nodes) \(\d+%\), \d+:\d\d elapsed$"
    )
    lines = [line for line in smoke_run.output.splitlines() if not progress.match(line)]
    assert "\r" not in smoke_run.output
    assert re.search(r"^features: (\d+)/\1 tracks \(100%\)", smoke_run.output, re.M)
    assert re.search(r"^run: (\d+)/\1 nodes \(100%\)", smoke_run.output, re.M)
    node_lines = [line for line in lines if "] INFO" in line or " INFO " in line]
    assert len(lines) < 100, smoke_run.output
    for noise in CONSOLE_NOISE:
        assert noise not in smoke_run.output, noise
    assert "Running node:" not in smoke_run.output  # Kedro's line per node, replaced by
    assert any("[1/" in line and "dataset_creation: " in line for line in node_lines)
    assert any("] modelling: " in line for line in node_lines)  # one line per pipeline stage
    summary = smoke_run.output[smoke_run.output.index("Run summary:") :]
    assert "Report: data/08_reporting/report.html" in summary
    assert "Catalogue page: data/08_reporting/inference/catalogue.html" in summary
    assert "demo corpus: synthetic music" in summary
    assert "chosen before the test songs" in summary
    families = "|".join(OFFLINE_FEATURES)
    for label in VAD_LABELS:
        # the demo corpus is small: the grouped CV runs, and chooses among the CV'd heads
        line = rf"^  {label}: .+ \(({families})_\w+\.\w+, chosen by grouped CV: R² [-\d.]+\), test "
        assert re.search(line, summary, re.M), summary
    assert "dropped by dataset_creation" in summary and "without features" in summary


def test_every_raw_and_labelled_output_is_there_and_valid(in_project):
    soundtracks = in_project.load("soundtracks")
    report = in_project.load("dataset_report")

    assert report["counts"]["crawled"] == N_TRACKS + 7
    assert report["counts"]["kept"] == len(soundtracks) >= N_TRACKS - 2
    assert set(soundtracks["split"]) == set(SPLITS)
    assert soundtracks["id"].is_unique
    assert soundtracks[list(VAD_LABELS)].apply(lambda c: c.between(0, 1)).all().all()
    assert {d["reason"] for d in report["dropped"]} >= {"no_audio_file", "no_spotify_match"}


def test_features_and_model_inputs_cover_the_kept_tracks(in_project):
    soundtracks = in_project.load("soundtracks")
    table = in_project.load("mfcc_features").table().set_index("id")
    model_input = in_project.load("mfcc_15s")

    assert set(table.index) == set(soundtracks["id"])
    errors = table[table["status"] == "error"]
    assert len(errors) == 2 and errors["reason"].str.len().gt(0).all()  # corrupt + 3 s clip
    for split in SPLITS:
        part = model_input[split]
        assert part.n_frames > 0 and part.frame_shape == (323, 13)


def test_every_listed_model_was_trained_scored_and_saved(in_project):
    metrics = in_project.load("model_metrics")
    trained = in_project.load("trained_models")
    variants = metrics[["feature", "network", "target"]].drop_duplicates()

    assert len(variants) >= 2 and set(metrics["level"]) == {"frame", "song"}
    assert np.isfinite(metrics[["mse", "mae", "baseline_mse"]].to_numpy()).all()
    for row in variants.itertuples(index=False):
        mine = (metrics["feature"] == row.feature) & (metrics["network"] == row.network) & (
            metrics["target"] == row.target
        )
        recorded = metrics.loc[mine, "model_sha256"].iloc[0]
        # the saved file is the one its metrics were measured on (loading checks the hash)
        model = trained[f"{row.feature}_{row.network}/{row.target}"]().load(
            expected_sha256=recorded, name=f"{row.feature}_{row.network}.{row.target}"
        )
        assert model.output_shape[-1] == (3 if row.target == "joint" else 1)
        history = in_project.load(f"{row.feature}_{row.network}.{row.target}.history")
        assert len(history) == 1  # one epoch, as asked on the command line


def test_the_report_and_the_inference_outputs_are_complete(in_project):
    html = in_project.load("report_html")
    track_vad = in_project.load("track_vad")
    # The demo's test songs are a catalogue of one movie.
    profile = in_project.load("movie_profiles")["demo_test_songs"]()
    catalogue = in_project.load("catalogue_table")
    soundtracks = in_project.load("soundtracks")

    assert html.lstrip().lower().startswith("<!doctype html") and "data:image/png;base64," in html
    assert len(track_vad) == (soundtracks["split"] == "test").sum()
    readable = track_vad[track_vad["status"] != "error"]
    assert len(readable) >= 1
    assert readable[list(VAD_LABELS)].apply(lambda c: c.between(0, 1)).all().all()
    assert set(profile["label"]) == set(VAD_LABELS)
    assert catalogue["movie_id"].tolist() == ["demo_test_songs"]
    assert catalogue["n_tracks"].tolist() == [len(track_vad)]
    page = in_project.load("catalogue_page")
    assert page.startswith("<!DOCTYPE html>") and 'id="demo-banner"' in page


def test_the_search_answers_the_default_queries_with_the_demo_lexicon(in_project):
    queries = in_project.load("search_queries")
    results = in_project.load("search_results")
    assert len(queries) >= 1 and (queries["error"].fillna("") == "").all(), queries
    assert (queries["n_results"] > 0).all()
    assert set(results["query"]) == set(queries["query"])
    assert results["demo_model"].all()
    assert in_project.load("similar_movies").empty  # a catalogue of one movie


def test_a_model_trained_on_the_demo_beats_the_mean_baseline(in_project):
    """The learning test: on the demo's test songs, for every label, a model the offline
    pipeline trained (with the shipped settings of the heads that need no epochs) predicts
    clearly better than the training mean."""
    metrics = in_project.load("model_metrics")
    song = metrics[metrics["level"] == "song"]
    best = song.loc[song.groupby("label")["mse"].idxmin()].set_index("label")

    assert set(best.index) == set(VAD_LABELS)
    ratio = best["mse"] / best["baseline_mse"]
    assert (ratio < 0.5).all(), best[["feature", "network", "mse", "baseline_mse", "r2"]]
    assert (best["r2"] > 0.3).all(), best[["feature", "network", "r2"]]


def test_the_run_is_tracked_in_mlflow_with_every_model_in_a_nested_run(smoke_run, in_project):
    """kedro-mlflow's default local store (conf/base/mlflow.yml): the kedro run is one MLflow
    run holding the report; each model a nested run with its metrics, provenance and model."""
    import mlflow

    store = smoke_run.project / "mlruns" / "mlflow.db"
    assert store.is_file()
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("soundtrack_emotion")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1
    metrics = in_project.load("model_metrics")
    models = metrics[["feature", "network", "target"]].drop_duplicates()
    assert len(children) == len(models)
    assert set(metrics["mlflow_run_id"]) == {r.info.run_id for r in children}
    assert set(metrics["corpus_kind"]) == {"demo"}
    child = children[0]
    assert child.data.tags["corpus.kind"] == "demo"
    assert any(k.startswith("song_") and k.endswith("_r2_ci_low") for k in child.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
    # MLflow 3 keeps the logged model as a LoggedModel (registered below), not a run artefact.
    assert {"history.csv", "provenance.json", "metrics.json"} <= artifacts
    report = {a.path for a in client.list_artifacts(parents[0].info.run_id, "report")}
    assert "report/report.html" in report
    name = child.data.tags["model"]
    assert client.get_registered_model(f"soundtrack_emotion.{name}").latest_versions


def test_outputs_say_which_model_and_corpus_made_them(in_project):
    html = in_project.load("report_html")
    assert "DEMO: synthetic data" in html and "About this report" in html
    track_vad = in_project.load("track_vad")
    per_movie = [
        load()
        for name in ("movie_timelines", "movie_track_vad", "movie_profiles", "movie_arcs")
        for load in in_project.load(name).values()
    ]
    assert per_movie
    catalogue = in_project.load("catalogue_table")
    for output in (track_vad, in_project.load("vad_timelines"), *per_movie, catalogue):
        assert {"model", "model_version", "trained_on", "demo_model"} <= set(output.columns)
    assert catalogue["demo_model"].all()
    row = track_vad.iloc[0]
    assert row["demo_model"] and row["trained_on"].startswith("demo ")
    # whichever model won the choice (metrics.SELECTION_RULE), of any offline family
    assert "valence=" in row["model"] and "soundtrack_emotion." in row["model_version"]


def test_inference_the_report_and_model_metrics_name_the_same_model_per_label(in_project):
    key = ["feature", "network", "target"]
    metrics = in_project.load("model_metrics")
    ranked_first = metrics[(metrics["rank"] == 1) & (metrics["level"] == "song")]
    expected = {r.label: (r.feature, r.network, r.target) for r in ranked_first.itertuples()}
    assert ranked_first["cv_r2_mean"].notna().all()  # the demo is cross-validated
    chosen = in_project.load("inference_models").set_index("label")[key]
    assert {label: tuple(row) for label, row in chosen.iterrows()} == expected
    results = in_project.load("results_table")
    starred = results[results["best"].astype(bool) & (results["level"] == "song")]
    assert {r.emotion: (r.feature, r.network, r.target) for r in starred.itertuples()} == expected
