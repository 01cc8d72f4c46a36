"""The inference pipeline's wiring, and one run over a folder through the project's catalog."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from soundtrack_emotion.pipelines.inference import create_pipeline
from soundtrack_emotion.vad import VAD_LABELS

PROJECT = Path(__file__).resolve().parents[3]
LAYERS = {
    "inference_tracks": "model_input",
    "inference_models": "model_output",
    "inference_results": "model_output",
    "vad_timelines": "model_output",
    "vad_timelines_csv": "model_output",
    "track_vad": "model_output",
    "track_vad_csv": "model_output",
    "inference_waveforms": "intermediate",
    "vad_timeline_plots": "reporting",
    "movie_profile": "reporting",
    "movie_arc": "reporting",
    "movie_profile_plot": "reporting",
}


def _config() -> OmegaConfigLoader:
    return OmegaConfigLoader(
        conf_source=str(PROJECT / "conf"), base_env="base", default_run_env="base"
    )


def test_offline_inference_never_loads_a_vggish_model():
    offline = create_pipeline(features=("mfcc",))
    default = create_pipeline()

    assert not [name for name in offline.inputs() if "vggish" in name]
    assert not offline.only_nodes_with_tags("vggish").nodes
    models = {n for n in default.inputs() if n.endswith(".model") and not n.startswith("params:")}
    assert models == {
        f"{f}_{n}.{label}.model"
        for f in ("mfcc", "vggish")
        for n in ("cnn", "lstm")
        for label in VAD_LABELS
    }
    assert [n.name for n in default.only_nodes_with_tags("vggish").nodes] == [
        "predict_vad_timelines"
    ]


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


@pytest.mark.filterwarnings("ignore:.*dot notation.*:UserWarning")
def test_inference_run_on_a_folder_writes_timelines_profile_and_plots(
    tmp_path, monkeypatch, write_tone, tiny_model, extraction_params
):
    album = tmp_path / "album"
    write_tone(album / "01 Opening.wav", 7.0)
    (album / "02 Broken.wav").write_bytes(b"RIFF" + bytes(100))
    write_tone(album / "03 Finale.flac", 4.0, sr=16000)
    config = _config()
    monkeypatch.chdir(tmp_path)
    catalog = DataCatalog.from_config(config["catalog"], config["credentials"])
    pipeline = create_pipeline(features=("mfcc",))
    parameters = {
        **config["parameters"]["inference"],
        "audio_path": str(album),
        "hop_seconds": 2.0,
    }
    metrics = pd.DataFrame(
        [
            ("mfcc", network, label, label, 0.01 if network == "lstm" else 0.02)
            for network in ("cnn", "lstm")
            for label in VAD_LABELS
        ],
        columns=["feature", "network", "target", "label", "best_val_loss"],
    )
    for name in pipeline.inputs():
        if name == "params:feature_extraction":
            catalog[name] = extraction_params
        elif name.startswith("params:inference."):
            catalog[name] = parameters[name.removeprefix("params:inference.")]
        elif name.endswith(".model"):
            value = 0.7 if "_lstm." in name else 0.1
            catalog[name] = tiny_model((43, 13), value=value)
        elif name == "model_metrics":
            catalog[name] = metrics
        elif name == "soundtracks":
            catalog[name] = pd.DataFrame({"id": [], "audio_path": [], "split": []})

    SequentialRunner().run(pipeline, catalog)

    out = tmp_path / "data"
    chosen = pd.read_csv(out / "07_model_output/inference/models.csv")
    assert set(chosen["network"]) == {"lstm"}  # the lower validation loss
    track_vad = pd.read_parquet(out / "07_model_output/inference/track_vad.parquet")
    assert track_vad["track"].tolist() == ["01 Opening", "02 Broken", "03 Finale"]
    assert track_vad["status"].tolist() == ["ok", "error", "ok"]
    assert track_vad["valence"].iloc[[0, 2]].tolist() == pytest.approx([0.7, 0.7])
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
    assert (out / "02_intermediate/inference_waveforms.parquet").is_file()
    plots = sorted(p.name for p in (out / "08_reporting/inference/timelines").iterdir())
    assert plots == ["001_01_Opening.png", "003_03_Finale.png"]
    profile = pd.read_csv(out / "08_reporting/inference/movie_profile.csv")
    assert profile["label"].tolist() == list(VAD_LABELS)
    assert profile["total_s"].tolist() == pytest.approx([11.0] * 3)
    arc = pd.read_csv(out / "08_reporting/inference/movie_arc.csv")
    assert arc["position"].tolist() == [1, 3]
    assert (out / "08_reporting/inference/movie_profile.png").stat().st_size > 10_000
