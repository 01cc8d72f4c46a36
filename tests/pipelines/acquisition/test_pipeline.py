"""The acquisition pipeline from the project's own configuration (conf/base), run by Kedro
against the loopback servers; then the chain acquisition -> dataset_creation."""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from soundtrack_emotion.core.matching import make_track_id
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets import VadLexiconDataset
from soundtrack_emotion.pipelines.acquisition import create_pipeline as acquisition_pipeline
from soundtrack_emotion.pipelines.acquisition.downloaders import (
    LocalFolderDownloader,
    SavifyDownloader,
    YtDlpDownloader,
)
from soundtrack_emotion.pipelines.acquisition.plan import AcquisitionPlan
from soundtrack_emotion.pipelines.dataset_creation import (
    create_pipeline as dataset_creation_pipeline,
)
from soundtrack_emotion.pipelines.feature_extraction import (
    create_pipeline as feature_extraction_pipeline,
)
from soundtrack_emotion.pipelines.inference import create_pipeline as inference_pipeline
from soundtrack_emotion.pipelines.modelling import create_pipeline as modelling_pipeline
from soundtrack_emotion.pipelines.reporting import create_pipeline as reporting_pipeline
from soundtrack_emotion.runtime.hooks import RawLayerHook

from .conftest import (
    CATALOGUE,
    LASTFM_KEY,
    LASTFM_SECRET,
    PAGE_SIZE,
    SECRETS,
    SPOTIFY_ID,
    SPOTIFY_SECRET,
    write_tone,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
# The corpus tracks that end up in `soundtracks`: tags with lexicon words, a Spotify match and
# an audio file (Breaking Benjamin has no file; the others lack tags or a match).
KEPT = {
    make_track_id("Skeeter Davis", "The End of the World"): CATALOGUE[0].id,
    make_track_id("Mandy Moore", "Only Hope"): CATALOGUE[2].id,
    make_track_id("The Cardigans", "Lovefool"): CATALOGUE[3].id,
    make_track_id("Carly Simon", "Nobody Does It Better"): CATALOGUE[4].id,
    make_track_id("Jake Bugg", "Simple as This"): CATALOGUE[6].id,
    make_track_id("Simon & Garfunkel", "The Sound of Silence (Live)"): CATALOGUE[7].id,
    make_track_id("Hans Zimmer", "Time - Inception Suite"): CATALOGUE[9].id,
}
LEXICON = {  # word: valence, arousal, dominance (NRC-VAD v1 format, made-up values)
    "sad": (0.2, 0.3, 0.15), "lost": (0.15, 0.4, 0.2), "love": (0.95, 0.55, 0.6),
    "romantic": (0.9, 0.5, 0.5), "happy": (1.0, 0.73, 0.77), "calm": (0.87, 0.1, 0.28),
    "angry": (0.12, 0.83, 0.6), "cool": (0.88, 0.3, 0.65), "nice": (0.9, 0.35, 0.6),
    "study": (0.6, 0.4, 0.6), "dark": (0.3, 0.5, 0.4),
}  # fmt: skip


def add_parameters(catalog: DataCatalog, parameters: Mapping[str, Any]) -> None:
    """What KedroContext does: ``parameters`` and ``params:<dotted key>`` for every level."""
    catalog["parameters"] = dict(parameters)

    def walk(key: str, value: Any) -> None:
        catalog[f"params:{key}"] = value
        if isinstance(value, Mapping):
            for child, item in value.items():
                walk(f"{key}.{child}", item)

    for key, value in parameters.items():
        walk(key, value)


@pytest.fixture
def project(tmp_path, monkeypatch, fake_lastfm, fake_spotify) -> Callable[..., DataCatalog]:
    """A copy of the project's conf/ in a temporary project folder (the working directory),
    credentials in the environment; returns a factory of catalogs wired to the fakes, with the
    raw layer bound as a session binds it."""
    shutil.copytree(PROJECT_ROOT / "conf" / "base", tmp_path / "conf" / "base")
    (tmp_path / "conf" / "local").mkdir()
    monkeypatch.chdir(tmp_path)
    for name, value in (
        ("LASTFM_API_KEY", LASTFM_KEY),
        ("LASTFM_API_SECRET", LASTFM_SECRET),
        ("SPOTIFY_CLIENT_ID", SPOTIFY_ID),
        ("SPOTIFY_CLIENT_SECRET", SPOTIFY_SECRET),
    ):
        monkeypatch.setenv(name, value)
    library = tmp_path / "data" / "01_raw" / "audio_library"  # the configured default
    for name in (
        f"{CATALOGUE[0].id}.wav",
        "Mandy Moore - Only Hope.flac",
        "The Cardigans - Lovefool.ogg",
        "Carly Simon - Nobody Does It Better.wav",
        "Jake Bugg - Simple as This.wav",
        "Simon & Garfunkel - The Sound of Silence.wav",
        "Hans Zimmer - Time.wav",
    ):
        write_tone(library / name, seconds=31.0, sample_rate=16000)

    def catalog(**parameter_overrides: Any) -> DataCatalog:
        loader = OmegaConfigLoader(str(tmp_path / "conf"), base_env="base", default_run_env="local")
        config = loader["catalog"]
        config["lastfm_client"].update(api_root=fake_lastfm.api_root, timeout_s=1.0)
        config["spotify_client"].update(
            api_root=fake_spotify.api_root, token_url=fake_spotify.token_url, timeout_s=1.0
        )
        built = DataCatalog.from_config(config, loader["credentials"])
        parameters = loader["parameters"]
        acquisition = parameters["acquisition"]
        acquisition["lastfm"].update(max_tracks=None, page_size=PAGE_SIZE)
        acquisition["lastfm"]["requests_per_second"] = 200.0
        acquisition["spotify"]["requests_per_second"] = 200.0
        acquisition["retry"].update(backoff_initial_s=0.001, backoff_max_s=0.01)
        acquisition["progress_bar"] = False
        for key, value in parameter_overrides.items():
            parameters[key] = value
        add_parameters(built, parameters)
        RawLayerHook().after_catalog_created(built)
        return built

    return catalog


def test_parameters_file_is_a_valid_plan():
    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="local")
    plan = AcquisitionPlan.from_parameters(loader["parameters"]["acquisition"])
    assert plan.lastfm.tags == ("soundtrack",)
    assert plan.lastfm.requests_per_second == 5.0
    assert plan.downloader.backend == "local"
    # every backend setting is in conf/base (credentials come from the Spotify client)
    for backend, downloader in (
        ("local", LocalFolderDownloader),
        ("yt_dlp", YtDlpDownloader),
        ("savify", SavifyDownloader),
    ):
        settings = set(inspect.signature(downloader).parameters) - {"credentials"}
        assert set(plan.downloader.options[backend]) == settings, backend


def test_pipeline_ignores_features_and_reads_only_online_inputs():
    pipeline = acquisition_pipeline(features=("mfcc",))
    assert pipeline.inputs() == {
        "lastfm_client",
        "spotify_client",
        "raw_layer_store",
        "params:acquisition",
        "params:dataset_creation.spotify_match_threshold",
    }
    assert pipeline.outputs() == {"acquisition_report"}


def test_kedro_runs_acquisition_from_the_project_configuration(project, fake_lastfm, fake_spotify):
    SequentialRunner().run(acquisition_pipeline(), project())

    report = pd.read_csv("data/08_reporting/acquisition_report.csv")
    assert set(report["stage"]) == {
        "lastfm.tag_top_tracks",
        "lastfm.track_top_tags",
        "spotify.search",
        "audio.local",
    }
    assert (report["status"] == "done").sum() == 3 + 10 + 9 + 7
    text = Path("data/08_reporting/acquisition_report.csv").read_text()
    assert not any(secret in text for secret in SECRETS)

    requests = (len(fake_lastfm.requests), len(fake_spotify.requests))
    SequentialRunner().run(acquisition_pipeline(), project())
    assert (len(fake_lastfm.requests), len(fake_spotify.requests)) == requests
    again = pd.read_csv("data/08_reporting/acquisition_report.csv")
    assert set(again["status"]) == {"cached", "skipped", "failed"}


def _lexicon_catalog(project: Callable[..., DataCatalog], tmp_path: Path, **overrides: Any):
    lexicon = tmp_path / "lexicon" / "nrc_vad_test.txt"
    lexicon.parent.mkdir(exist_ok=True)
    lexicon.write_text(
        "Word\tValence\tArousal\tDominance\n"
        + "".join(f"{word}\t{v}\t{a}\t{d}\n" for word, (v, a, d) in LEXICON.items())
    )
    catalog = project(**overrides)
    catalog["vad_lexicon_source"] = VadLexiconDataset(filepath=str(lexicon), format="nrc_vad_v1")
    return catalog


def test_chain_acquisition_then_dataset_creation(project, tmp_path):
    """The crawl's raw layer is exactly what dataset_creation reads. With the thesis's tag
    rule every track is kept; the affect filter drops Jake Bugg's thesis example, whose tags
    (cool, nice, study) name no feeling, and says so."""
    SequentialRunner().run(acquisition_pipeline(), project())
    catalog = _lexicon_catalog(project, tmp_path)
    SequentialRunner().run(dataset_creation_pipeline(), catalog)
    affect = pd.read_parquet("data/02_intermediate/track_status.parquet").set_index("id")
    bugg = make_track_id("Jake Bugg", "Simple as This")
    assert affect.loc[bugg, "drop_reason"] == "only_non_affect_tags"

    catalog = _lexicon_catalog(project, tmp_path)
    catalog["params:dataset_creation.tag_filter"] = "stop_list"
    SequentialRunner().run(dataset_creation_pipeline(), catalog)

    soundtracks = pd.read_parquet("data/03_primary/soundtracks.parquet")
    assert dict(zip(soundtracks["id"], soundtracks["spotify_id"], strict=True)) == KEPT
    by_id = soundtracks.set_index("id")
    assert by_id.loc[bugg, "duration_ms"] == 199453  # from the Spotify search answer
    assert by_id.loc[bugg, "audio_path"] == f"data/01_raw/audio/{bugg}.wav"
    assert Path(by_id.loc[bugg, "audio_path"]).is_file()
    assert soundtracks[["valence", "arousal", "dominance"]].notna().all().all()


def test_raw_entries_moved_in_conf_local_move_the_crawl_and_dataset_creation_follows(
    project, tmp_path
):
    """The catalog is the raw layer's only layout: entries moved in conf/local/catalog.yml
    move what the crawl writes, and dataset_creation reads the crawl there."""
    moved = {
        "lastfm_tag_top_tracks": "crawl/lastfm/pages",
        "lastfm_track_top_tags": "crawl/lastfm/top_tags",
        "spotify_search": "crawl/spotify",
        "raw_audio_files": "media/audio",
    }
    base = yaml.safe_load((tmp_path / "conf/base/catalog_dataset_creation.yml").read_text())
    local = {name: {**base[name], "path": path} for name, path in moved.items()}
    (tmp_path / "conf/local/catalog.yml").write_text(yaml.safe_dump(local))

    SequentialRunner().run(acquisition_pipeline(), project())
    assert not (tmp_path / "data/01_raw/lastfm").exists()
    assert not (tmp_path / "data/01_raw/spotify").exists()
    assert not (tmp_path / "data/01_raw/audio").exists()
    report = pd.read_csv("data/08_reporting/acquisition_report.csv")
    done = report[report["status"] == "done"]
    for stage, folder in (
        ("lastfm.tag_top_tracks", "crawl/lastfm/pages/soundtrack/"),
        ("lastfm.track_top_tags", "crawl/lastfm/top_tags/"),
        ("spotify.search", "crawl/spotify/"),
        ("audio.local", "media/audio/"),
    ):
        paths = done.loc[done["stage"] == stage, "path"]
        assert len(paths) and all(p.startswith(folder) and Path(p).is_file() for p in paths)

    catalog = _lexicon_catalog(project, tmp_path)
    catalog["params:dataset_creation.tag_filter"] = "stop_list"
    SequentialRunner().run(dataset_creation_pipeline(), catalog)
    soundtracks = pd.read_parquet("data/03_primary/soundtracks.parquet")
    assert dict(zip(soundtracks["id"], soundtracks["spotify_id"], strict=True)) == KEPT
    assert all(path.startswith("media/audio/") for path in soundtracks["audio_path"])


def test_whole_chain_from_the_loopback_crawl_to_the_report(project, tmp_path):
    """acquisition -> dataset_creation -> feature_extraction -> modelling -> inference ->
    reporting (its per-song timeline figures come from inference), each
    pipeline built as the registry builds it, on the crawl of the fake servers and a local
    audio folder (small models, one epoch: this checks the wiring, not the learning)."""
    SequentialRunner().run(acquisition_pipeline(), project())
    parameters = OmegaConfigLoader(str(tmp_path / "conf"), base_env="base")["parameters"]
    modelling = parameters["modelling"]
    cnn = modelling["networks"]["cnn"]
    cnn["architecture"].update(conv_filters=[2, 2], dense_units=[4, 4, 4])
    cnn["training"].update(epochs=1, patience=1)
    extraction = parameters["feature_extraction"] | {"workers": 1}
    catalog = _lexicon_catalog(
        project, tmp_path, modelling=modelling, feature_extraction=extraction
    )

    variants = {"features": ("mfcc",), "networks": ("cnn",), "targets": VAD_LABELS}
    chain = (
        dataset_creation_pipeline()
        + feature_extraction_pipeline(**variants)
        + modelling_pipeline(**variants)
        + inference_pipeline(**variants)
        + reporting_pipeline(**variants)
    )
    SequentialRunner().run(chain, catalog)

    soundtracks = pd.read_parquet("data/03_primary/soundtracks.parquet")
    extraction_report = pd.read_csv("data/08_reporting/feature_extraction_report.csv")
    assert set(extraction_report["id"]) == set(soundtracks["id"])
    assert set(extraction_report["status"]) == {"ok"}
    inputs = catalog.load("mfcc_15s")
    assert inputs.train.frame_shape == (323, 13)
    total = sum(inputs[split].n_frames for split in ("train", "validation", "test"))
    assert total == 2 * len(soundtracks)  # 31 s tracks: two non-overlapping 15 s frames each

    metrics = pd.read_parquet("data/08_reporting/model_metrics.parquet")
    assert set(metrics["level"]) == {"frame", "song"}
    assert set(metrics["feature"] + "_" + metrics["network"]) == {"mfcc_cnn"}
    assert all(Path(f"data/06_models/mfcc_cnn/{label}.keras").is_file() for label in VAD_LABELS)
    timelines = pd.read_parquet("data/07_model_output/inference/vad_timelines.parquet")
    assert len(timelines) > 0 and {"start_s", "end_s", "valence"} <= set(timelines.columns)
    html = Path("data/08_reporting/report.html").read_text()
    assert "mfcc" in html.lower() and "<img" in html
