"""DemoCorpusHook: generates the demo raw layer only when a run needs it and it is absent."""

from __future__ import annotations

import logging

import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node

from soundtrack_emotion.hooks import DemoCorpusHook
from soundtrack_emotion.pipelines.dataset_creation import create_pipeline

SMALL = {
    "enabled": True,
    "raw_dir": "data/01_raw",
    "seed": 3,
    "n_tracks": 2,
    "min_seconds": 1.0,
    "max_seconds": 1.0,
    "bad_entries": False,
    "workers": 1,
}


def _run_hook(project, params, pipeline=None):
    catalog = DataCatalog()
    catalog["params:demo"] = params
    DemoCorpusHook().before_pipeline_run(
        run_params={"project_path": str(project)},
        pipeline=pipeline or create_pipeline(),
        catalog=catalog,
    )


def test_generates_the_raw_layer_when_absent_and_leaves_it_alone_after(tmp_path):
    _run_hook(tmp_path, SMALL)
    raw = tmp_path / "data" / "01_raw"
    pages = list((raw / "lastfm" / "tag_top_tracks").rglob("*.json"))
    assert pages and len(list((raw / "audio").iterdir())) == 2
    marker = raw / "lastfm" / "user-file.txt"
    marker.write_text("a real crawl lives here")
    (raw / "audio").rename(raw / "audio-moved")
    _run_hook(tmp_path, SMALL)
    assert marker.exists() and not (raw / "audio").exists()  # nothing regenerated


def test_runs_that_do_not_read_the_raw_layer_do_not_generate(tmp_path):
    unrelated = Pipeline([node(lambda x: x, "soundtracks", "copy", name="copy")])
    _run_hook(tmp_path, SMALL, unrelated)
    assert not (tmp_path / "data").exists()


def test_disabled_demo_only_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        _run_hook(tmp_path, {**SMALL, "enabled": False})
    assert not (tmp_path / "data").exists()
    assert "demo is disabled" in caplog.text


def test_unknown_demo_parameter_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown demo parameters"):
        _run_hook(tmp_path, {**SMALL, "n_trakcs": 5})
