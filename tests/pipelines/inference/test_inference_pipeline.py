"""The inference pipeline's wiring, and runs over a folder through the project's catalog with
only MFCC model files on disk (as after ``kedro run --pipelines=offline``)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from soundtrack_emotion.core.families import vggish as vggish_family
from soundtrack_emotion.core.model_files import serialise_model, sha256_hex
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets import KerasModelDataset
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.inference import create_pipeline
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
from soundtrack_emotion.runtime.provenance import corpus_fingerprint

PROJECT = Path(__file__).resolve().parents[3]
LAYERS = {
    "inference_tracks": "model_input",
    "inference_models": "model_output",
    "inference_results": "model_output",
    "vad_timelines": "model_output",
    "vad_timelines_csv": "model_output",
    "track_vad": "model_output",
    "track_vad_csv": "model_output",
    "inference_waveforms": "model_output",
    "movie_timelines": "model_output",
    "movie_track_vad": "model_output",
    "movie_profiles": "reporting",
    "movie_arcs": "reporting",
    "movie_profile_plots": "reporting",
    "movie_plots": "reporting",
    "movie_digests": "model_output",
    "catalogue_table": "reporting",
    "catalogue_plot": "reporting",
    "catalogue_page": "reporting",
}


def _config() -> OmegaConfigLoader:
    return OmegaConfigLoader(
        conf_source=str(PROJECT / "conf"), base_env="base", default_run_env="base"
    )


def test_models_are_one_lazy_input_and_offline_inference_never_picks_a_vggish_model():
    offline = create_pipeline(features=("mfcc",))
    default = create_pipeline()

    for pipeline in (offline, default):
        assert {"trained_models", "model_metrics"} <= pipeline.inputs()
        assert not [
            n for n in pipeline.inputs() - {"params:inference.model"} if n.endswith(".model")
        ]
    assert not [name for name in offline.inputs() if "vggish" in name]
    assert not offline.only_nodes_with_tags("vggish").nodes
    assert [n.name for n in default.only_nodes_with_tags("vggish").nodes] == [
        "predict_vad_timelines"
    ]
    (select,) = [n for n in offline.nodes if n.name == "select_inference_models"]
    assert select.func.keywords == {"features": ("mfcc",)}


def test_every_inference_output_is_catalogued_with_its_layer():
    catalog = _config()["catalog"]
    pipeline = create_pipeline()
    assert set(LAYERS) == pipeline.all_outputs()
    for name, layer in LAYERS.items():
        assert catalog[name]["metadata"]["kedro-viz"]["layer"] == layer, name
    # The cache as it is on disk when a run starts: the same folder, read to skip done tracks.
    existing = catalog["existing_inference_results"]
    assert existing["path"] == catalog["inference_results"]["path"]
    assert existing["metadata"]["kedro-viz"]["layer"] == "model_output"
    # Every model file the modelling pipelines write, as one lazily loaded partitioned input.
    models = catalog["trained_models"]
    assert models["type"] == "soundtrack_emotion.datasets.TrainedModelsDataset"
    assert (
        models["path"] + "/{feature}_{network}/{target}.keras"
        == (catalog["{feature}_{network}.{target}.model_file"]["filepath"])
    )
    assert models["metadata"]["kedro-viz"]["layer"] == "models"


def test_movie_ids_that_look_like_numbers_come_back_as_text(tmp_path):
    """A movie folder called 1917 is the text "1917" when the listing is read back, so its
    partitions and lookups match the ids the tables carry."""
    from kedro.framework.context.context import _convert_paths_to_absolute_posix
    from kedro.io import DataCatalog

    # the entry as `kedro run` builds it: relative paths made absolute under the project
    config = _convert_paths_to_absolute_posix(
        tmp_path, {"inference_tracks": _config()["catalog"]["inference_tracks"]}
    )
    dataset = DataCatalog.from_config(config)
    listing = pd.DataFrame({"movie_id": ["1917", "007"], "title": ["1917", "007"],
                            "position": [1, 1], "track": ["01", "02"],
                            "path": ["a", "b"]})  # fmt: skip
    dataset.save("inference_tracks", listing)
    loaded = dataset.load("inference_tracks")
    assert loaded[["movie_id", "title", "track"]].to_numpy().tolist() == [
        ["1917", "1917", "01"], ["007", "007", "02"]
    ]


MFCC_ONLY_METRICS = pd.DataFrame(
    [
        ("mfcc", network, label, label, 0.01 if network == "lstm" else 0.02)
        for network in ("cnn", "lstm")
        for label in VAD_LABELS
    ],
    columns=["feature", "network", "target", "label", "best_val_loss"],
)


# The labelled corpus the models were trained on (its test split is not scored: audio_path).
CORPUS = pd.DataFrame(
    {"id": ["a", "b", "c"], "audio_path": ["", "", ""], "valence": [0.2, 0.5, 0.8],
     "arousal": [0.3, 0.4, 0.5], "dominance": [0.5, 0.5, 0.6],
     "split": ["train", "validation", "test"]}
)  # fmt: skip


@pytest.fixture
def offline_project(tmp_path, monkeypatch, tiny_model, write_tone):
    """A project folder after ``kedro run --pipelines=offline``: MFCC model files only (cnn
    predicts 0.1, lstm 0.7), no VGGish model anywhere, and an album of three files (one
    broken). Loading VGGish fails the test."""
    for network, value in (("cnn", 0.1), ("lstm", 0.7)):
        for label in VAD_LABELS:
            path = tmp_path / f"data/06_models/mfcc_{network}/{label}.keras"
            KerasModelDataset(filepath=str(path)).save(
                serialise_model(tiny_model((43, 13), value=value))
            )
    album = tmp_path / "album"
    write_tone(album / "01 Opening.wav", 7.0)
    (album / "02 Broken.wav").write_bytes(b"RIFF" + bytes(100))
    write_tone(album / "03 Finale.flac", 4.0, sr=16000)

    def no_vggish(handle, precision, sha256=None):
        raise AssertionError(f"VGGish was loaded ({handle})")

    monkeypatch.setattr(vggish_family, "load_vggish", no_vggish)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run_in(project: Path, extraction_params: dict, **inference) -> None:
    """The inference pipeline as ``kedro run --pipelines=offline --tags=inference`` runs it, on
    the project's catalog in ``project``; ``model_metrics`` is MFCC-only."""
    config = _config()
    catalog = DataCatalog.from_config(config["catalog"], config["credentials"])
    pipeline = create_pipeline(features=("mfcc",))
    parameters = {
        **config["parameters"]["inference"],
        "audio_path": str(project / "album"),
        "hop_seconds": 2.0,
        **inference,
    }
    for name in pipeline.inputs():
        if name == "params:feature_extraction":
            catalog[name] = extraction_params
        elif name.startswith("params:inference."):
            catalog[name] = parameters[name.removeprefix("params:inference.")]
        elif name == "params:compute":
            catalog[name] = config["parameters"]["compute"]
        elif name == "model_metrics":
            # trained on this project's corpus, with these features
            params = ExtractionParams.from_dict(extraction_params)
            catalog[name] = MFCC_ONLY_METRICS.assign(
                model_sha256=[
                    sha256_hex(
                        (project / f"data/06_models/mfcc_{r.network}/{r.target}.keras").read_bytes()
                    )
                    for r in MFCC_ONLY_METRICS.itertuples()
                ],  # as the modelling pipeline records them
                corpus_kind="real",
                corpus_fingerprint=corpus_fingerprint(CORPUS),
                features_fingerprint=params.fingerprint("mfcc"),
            )
        elif name == "soundtracks":
            catalog[name] = CORPUS
    SequentialRunner().run(pipeline, catalog)


@pytest.mark.filterwarnings("ignore:.*dot notation.*:UserWarning")
def test_inference_run_on_a_folder_writes_timelines_profile_and_plots(
    offline_project, extraction_params
):
    tmp_path = offline_project
    assert not [p for p in tmp_path.rglob("*") if "vggish" in p.name]

    _run_in(tmp_path, extraction_params)

    out = tmp_path / "data"
    chosen = pd.read_csv(out / "07_model_output/inference/models.csv")
    assert set(chosen["network"]) == {"lstm"}  # the lower validation loss
    track_vad = pd.read_parquet(out / "07_model_output/inference/track_vad.parquet")
    assert track_vad["track"].tolist() == ["01 Opening", "02 Broken", "03 Finale"]
    assert track_vad["status"].tolist() == ["ok", "error", "ok"]
    assert track_vad["valence"].iloc[[0, 2]].tolist() == pytest.approx([0.7, 0.7])
    # every row says which model made it and what that model was trained on
    assert set(track_vad["model"]) == {
        "valence=mfcc_lstm.valence; arousal=mfcc_lstm.arousal; dominance=mfcc_lstm.dominance"
    }
    assert set(track_vad["trained_on"]) == {f"real {corpus_fingerprint(CORPUS)}"}
    assert not track_vad["demo_model"].any()
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "07_model_output/inference/track_vad.csv", keep_default_na=False)[
            ["track", "status"]
        ],
        track_vad[["track", "status"]].astype(object),
        check_dtype=False,
    )
    timelines = pd.read_parquet(out / "07_model_output/inference/vad_timelines.parquet")
    assert timelines.groupby("track")["end_s"].max().to_dict() == pytest.approx(
        {"01 Opening": 7.0, "03 Finale": 4.0}
    )
    assert len(pd.read_csv(out / "07_model_output/inference/vad_timelines.csv")) == len(timelines)
    assert (out / "07_model_output/inference/waveforms.parquet").is_file()
    # The folder is a catalogue of one movie, named after it.
    assert track_vad["movie_id"].unique().tolist() == ["album"]
    movie = out / "08_reporting/inference/movies/album"
    assert not (movie / "timelines").exists()  # inference.plots: profile, one plot per movie
    profile = pd.read_csv(movie / "profile.csv")
    assert profile["label"].tolist() == list(VAD_LABELS)
    assert profile["total_s"].tolist() == pytest.approx([11.0] * 3)
    arc = pd.read_csv(movie / "arc.csv")
    assert arc["position"].tolist() == [1, 3]
    # the per-movie outputs say which model made them, too
    assert set(profile["model"]) == set(arc["model"]) == set(track_vad["model"])
    movie_timelines = pd.read_parquet(
        out / "07_model_output/inference/movies/album/timelines.parquet"
    )
    assert set(movie_timelines["model"]) == set(track_vad["model"])
    profile_svg = (movie / "profile.svg").read_text(encoding="utf-8")
    assert profile_svg.startswith("<svg")
    assert "album (2 tracks, 0.2 min, 1 unreadable)" in profile_svg
    assert not list(movie.rglob("*.png"))
    movie_tracks = pd.read_parquet(out / "07_model_output/inference/movies/album/track_vad.parquet")
    pd.testing.assert_frame_equal(movie_tracks, track_vad.drop(columns=["movie_id", "title"]))
    table = pd.read_csv(out / "08_reporting/inference/catalogue.csv")
    assert table[["movie_id", "n_tracks", "n_scored", "n_failed"]].values.tolist() == [
        ["album", 3, 2, 1]
    ]
    assert table["valence_mean"].tolist() == pytest.approx([0.7])
    assert table["model"].tolist() == track_vad["model"].unique().tolist()
    assert table["trained_on"].tolist() == [f"real {corpus_fingerprint(CORPUS)}"]
    assert table["demo_model"].tolist() == [False]
    assert (out / "08_reporting/inference/catalogue_valence_arousal.png").is_file()
    # The catalogue page beside the table, with every track (the unreadable one too).
    page = (out / "08_reporting/inference/catalogue.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "catalogue-data" in page
    assert all(f'"{track}"' in page for track in ("01 Opening", "02 Broken", "03 Finale"))


@pytest.mark.filterwarnings("ignore:.*dot notation.*:UserWarning")
def test_a_chosen_variant_is_loaded_from_its_files(offline_project, extraction_params):
    _run_in(offline_project, extraction_params, model="mfcc_cnn", plots="tracks")

    out = offline_project / "data"
    chosen = pd.read_csv(out / "07_model_output/inference/models.csv")
    assert set(chosen["network"]) == {"cnn"}
    track_vad = pd.read_parquet(out / "07_model_output/inference/track_vad.parquet")
    assert track_vad["valence"].iloc[[0, 2]].tolist() == pytest.approx([0.1, 0.1])
    # inference.plots: tracks adds a timeline plot per readable track
    movie = out / "08_reporting/inference/movies/album"
    plots = sorted(p.name for p in (movie / "timelines").iterdir())
    assert plots == ["001_01_Opening.png", "003_03_Finale.png"]
    assert (movie / "profile.svg").is_file()


@pytest.mark.filterwarnings("ignore:.*dot notation.*:UserWarning")
@pytest.mark.parametrize("model", ["mfcc_cnn.joint", "mfcc_bilstm"])
def test_a_chosen_model_without_a_file_says_how_to_train_it(
    offline_project, extraction_params, model
):
    first = model if "." in model else f"{model}.valence"
    with pytest.raises(
        ParameterError,
        match=rf"{re.escape(first)} has no file.*train it first: kedro run "
        rf"--pipelines=modelling_all --namespaces={re.escape(first)}",
    ):
        _run_in(offline_project, extraction_params, model=model)

    assert not (offline_project / "data/07_model_output/inference/track_cache").exists()
    # refused while choosing, before the choice was saved
    assert not (offline_project / "data/07_model_output/inference/models.csv").exists()
