"""DemoCorpusHook: generates the demo raw layer only when a run needs it and it is absent,
where the catalog's raw entries point."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.pipeline import Pipeline, node
from kedro.runner import SequentialRunner

from soundtrack_emotion.datasets.raw_layer import RAW_ENTRIES
from soundtrack_emotion.exceptions import PrerequisiteError
from soundtrack_emotion.pipelines.dataset_creation import create_pipeline
from soundtrack_emotion.runtime.hooks import DemoCorpusHook

CONF = Path(__file__).resolve().parents[2] / "conf"

SMALL = {
    "enabled": True,
    "seed": 3,
    "n_tracks": 2,
    "min_seconds": 1.0,
    "max_seconds": 1.0,
    "bad_entries": False,
    "workers": 1,
}


def _run_hook(catalog, params, pipeline=None):
    catalog["params:demo"] = params
    DemoCorpusHook().before_pipeline_run(pipeline=pipeline or create_pipeline(), catalog=catalog)


@pytest.fixture
def raw_catalog(tmp_path, project_catalog):
    return project_catalog(tmp_path, RAW_ENTRIES.values())


def test_generates_the_raw_layer_when_absent_and_leaves_it_alone_after(tmp_path, raw_catalog):
    _run_hook(raw_catalog, SMALL)
    raw = tmp_path / "data" / "01_raw"
    pages = list((raw / "lastfm" / "tag_top_tracks").rglob("*.json"))
    assert pages and len(list((raw / "audio").iterdir())) == 2
    marker = raw / "lastfm" / "tag_top_tracks" / "user-file.txt"
    marker.write_text("a real crawl lives here")
    (raw / "audio").rename(raw / "audio-moved")
    _run_hook(raw_catalog, SMALL)
    assert marker.exists() and not (raw / "audio").exists()  # nothing regenerated


def test_runs_that_do_not_read_the_raw_layer_do_not_generate(tmp_path, raw_catalog):
    unrelated = Pipeline([node(lambda x: x, "soundtracks", "copy", name="copy")])
    _run_hook(raw_catalog, SMALL, unrelated)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("switch", [{"enabled": False}, {}])
def test_without_the_demo_a_missing_raw_layer_stops_the_run_saying_what_to_do(
    tmp_path, raw_catalog, switch
):
    params = {k: v for k, v in SMALL.items() if k != "enabled"} | switch
    with pytest.raises(PrerequisiteError, match=r"No raw layer: .*acquisition.*make demo"):
        _run_hook(raw_catalog, params)
    assert not (tmp_path / "data").exists()


def test_unknown_demo_parameter_is_refused(raw_catalog):
    with pytest.raises(ValueError, match="unknown demo parameters"):
        _run_hook(raw_catalog, {**SMALL, "n_trakcs": 5})
    with pytest.raises(ValueError, match="unknown demo parameters"):
        _run_hook(raw_catalog, {**SMALL, "raw_dir": "data/01_raw"})  # the catalog says where


def test_a_raw_entry_moved_in_the_catalog_moves_the_demo_and_dataset_creation_follows(
    tmp_path, project_catalog, small_demo_config
):
    """The catalog is the only layout: move the top tags and the audio, and the demo writes
    them there, and dataset_creation reads them there."""
    moved = {"lastfm_track_top_tags": "elsewhere/top_tags", "raw_audio_files": "media/audio"}
    pipeline = create_pipeline()
    names = {d for d in pipeline.datasets() if not d.startswith("params:")}
    catalog = project_catalog(tmp_path, names | set(RAW_ENTRIES.values()), moved=moved)
    params = yaml.safe_load((CONF / "base" / "parameters_dataset_creation.yml").read_text())
    for key, value in params["dataset_creation"].items():
        catalog[f"params:dataset_creation.{key}"] = value
    _run_hook(catalog, {"enabled": True, **dataclasses.asdict(small_demo_config)}, pipeline)

    assert not (tmp_path / "data/01_raw/lastfm/track_top_tags").exists()
    assert not (tmp_path / "data/01_raw/audio").exists()
    top_tags = {p.stem for p in (tmp_path / "elsewhere/top_tags").iterdir()}
    audio = {p.stem for p in (tmp_path / "media/audio").iterdir()}
    SequentialRunner().run(pipeline, catalog)
    soundtracks = catalog.load("soundtracks")
    assert len(soundtracks) == small_demo_config.n_tracks + 2  # the corrupt and the short file
    assert set(soundtracks["id"]) <= top_tags & audio
    assert all(path.startswith(str(tmp_path / "media/audio")) for path in soundtracks["audio_path"])
    tags = pd.read_parquet(tmp_path / "data/02_intermediate/track_tags.parquet")
    assert set(tags["id"]) <= top_tags
