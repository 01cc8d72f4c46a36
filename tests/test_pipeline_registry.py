"""The registry: which pipelines exist, what the default and offline runs contain, and that
each pipeline loads by name the way the CLI asks for it (Kedro loads only what is asked)."""

import pytest
from kedro.framework.project import configure_project, find_pipelines

from soundtrack_emotion.core.families import FEATURES, OFFLINE_FEATURES
from soundtrack_emotion.pipeline_registry import register_pipelines
from soundtrack_emotion.pipelines.composition import BATCH

BATCH_AND_ONLINE = (*BATCH, "acquisition")


@pytest.fixture(scope="module")
def registry():
    configure_project("soundtrack_emotion")
    return register_pipelines()


def test_every_pipeline_package_is_registered(registry):
    composites = {"modelling_all", "offline", "offline_labelled", "labelled_dataset"}
    assert set(registry) == {*BATCH_AND_ONLINE, *composites, "__default__"}


def test_offline_labelled_run_takes_soundtracks_from_the_labelled_table(registry):
    """Bring your own labels: the same run from the table, without Last.fm or the demo."""
    run = registry["offline_labelled"]
    assert "labelled_tracks" in run.inputs()
    assert not set(run.inputs()) & {"lastfm_tag_top_tracks", "lastfm_track_top_tags"}
    assert "vad_lexicon" not in run.inputs()  # no lexicon made the labels: no mood search
    assert {"soundtracks", "dataset_report", "musicnn_15s", "model_metrics", "report_html"} <= (
        run.all_outputs()
    )
    unchanged = {
        n.name
        for n in registry["offline"].nodes
        if {"feature_extraction", "modelling", "reporting"} & set(n.tags)
    }
    assert unchanged <= {n.name for n in run.nodes}


def test_default_run_is_the_batch_without_acquisition(registry):
    default = registry["__default__"]
    assert not any("acquisition" in node.tags for node in default.nodes)
    for name in BATCH:
        assert any(name in node.tags for node in default.nodes), name
    assert {"mfcc_15s", "vggish_15s", "model_metrics", "report_html"} <= default.all_outputs()


def test_offline_run_never_touches_vggish(registry):
    offline = registry["offline"]
    assert {"mfcc", "musicnn"} <= set(OFFLINE_FEATURES) and "vggish" in FEATURES
    assert "vggish" not in OFFLINE_FEATURES
    assert not any("vggish" in node.tags for node in offline.nodes)
    datasets = offline.inputs() | offline.all_outputs()
    assert not [name for name in datasets if "vggish" in name]
    assert {"soundtracks", "mfcc_15s", "model_metrics", "report_html", "vad_timelines",
            "search_results"} <= offline.all_outputs()  # fmt: skip
    # MusiCNN needs no network after set-up: its features and models are part of the run.
    assert {"musicnn_features", "musicnn_15s", "musicnn_30s"} <= offline.all_outputs()
    assert "musicnn_model" in next(n for n in offline.nodes if n.name == "extract_features").tags


@pytest.mark.parametrize("name", [*BATCH_AND_ONLINE, "modelling_all"])
def test_every_node_carries_its_pipelines_tag(registry, name):
    tag = "modelling" if name == "modelling_all" else name
    assert all(tag in node.tags for node in registry[name].nodes)


@pytest.mark.parametrize("name", ["offline", "offline_labelled", "modelling_all", "reporting"])
def test_pipeline_loads_when_requested_alone(registry, name):
    # `kedro run --pipelines=<name>` makes find_pipelines import only that package.
    found = find_pipelines(raise_errors=True, pipelines_to_find=[name])
    assert set(found) == {name}
    assert {n.name for n in found[name].nodes} == {n.name for n in registry[name].nodes}


def _layer_of(catalog: dict, name: str) -> str | None:
    """A dataset's kedro-viz layer from conf/base/catalog*.yml (an entry of its own first, as
    Kedro resolves it, else the factory it matches)."""
    import re

    if name in catalog:
        return ((catalog[name].get("metadata") or {}).get("kedro-viz") or {}).get("layer")
    for pattern, entry in catalog.items():
        regex = "^" + re.sub(r"\\\{[^}]*\\\}", r"[^.]+", re.escape(pattern)) + "$"
        if pattern == name or ("{" in pattern and re.match(regex, name)):
            return ((entry.get("metadata") or {}).get("kedro-viz") or {}).get("layer")
    return None


@pytest.mark.parametrize("name", ["__default__", "offline", "inference"])
def test_the_layers_form_no_cycle_so_kedro_viz_can_show_them(registry, name):
    """kedro-viz draws layers only when they are acyclic: layer A before B whenever a node
    reads an A dataset and writes a B one (through unlayered in-memory datasets too)."""
    from pathlib import Path

    import yaml

    base = Path(__file__).parents[1] / "conf/base"
    catalog = {
        k: v for p in base.glob("catalog*.yml") for k, v in yaml.safe_load(p.read_text()).items()
    }
    nodes = registry[name].nodes
    produces = {}
    for node in nodes:
        for dataset in node.inputs:
            produces.setdefault(dataset, set()).update(node.outputs)
    layers = {d: _layer_of(catalog, d) for d in {*produces, *registry[name].all_outputs()}}

    def reached(dataset: str, seen: set) -> set:
        out = set()
        for nxt in produces.get(dataset, ()):
            if nxt not in seen:
                seen.add(nxt)
                out |= {layers[nxt]} if layers[nxt] else reached(nxt, seen)
        return out

    edges = {}
    for dataset, layer in layers.items():
        if layer and not dataset.startswith("params:"):
            edges.setdefault(layer, set()).update(reached(dataset, set()) - {layer})

    def on_cycle(layer: str, path: tuple) -> tuple | None:
        if layer in path:
            return (*path, layer)
        return next(filter(None, (on_cycle(n, (*path, layer)) for n in edges.get(layer, ()))), None)

    assert [on_cycle(layer, ()) for layer in edges] == [None] * len(edges)
