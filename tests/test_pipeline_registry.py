"""The registry: which pipelines exist, what the default and offline runs contain, and that
each pipeline loads by name the way the CLI asks for it (Kedro loads only what is asked)."""

import pytest
from kedro.framework.project import configure_project, find_pipelines

from soundtrack_emotion.pipeline_registry import BATCH, register_pipelines
from soundtrack_emotion.vocabulary import FEATURES, OFFLINE_FEATURES

BATCH_AND_ONLINE = (*BATCH, "acquisition")


@pytest.fixture(scope="module")
def registry():
    configure_project("soundtrack_emotion")
    return register_pipelines()


def test_every_pipeline_package_is_registered(registry):
    composites = {"modelling_all", "offline", "offline_labelled", "labelled_dataset"}
    assert set(registry) == {*BATCH_AND_ONLINE, *composites, "__default__"}


def test_default_run_is_the_batch_without_acquisition(registry):
    default = registry["__default__"]
    assert not any("acquisition" in node.tags for node in default.nodes)
    for name in BATCH:
        assert any(name in node.tags for node in default.nodes), name
    assert {"mfcc_15s", "vggish_15s", "model_metrics", "report_html"} <= default.all_outputs()


def test_offline_run_never_touches_vggish(registry):
    offline = registry["offline"]
    assert OFFLINE_FEATURES == ("mfcc",) and "vggish" in FEATURES
    assert not any("vggish" in node.tags for node in offline.nodes)
    datasets = offline.inputs() | offline.all_outputs()
    assert not [name for name in datasets if "vggish" in name]
    assert {"soundtracks", "mfcc_15s", "model_metrics", "report_html", "vad_timelines"} <= (
        offline.all_outputs()
    )


@pytest.mark.parametrize("name", [*BATCH_AND_ONLINE, "modelling_all"])
def test_every_node_carries_its_pipelines_tag(registry, name):
    tag = "modelling" if name == "modelling_all" else name
    assert all(tag in node.tags for node in registry[name].nodes)


@pytest.mark.parametrize("name", ["offline", "modelling_all", "reporting"])
def test_pipeline_loads_when_requested_alone(registry, name):
    # `kedro run --pipelines=<name>` makes find_pipelines import only that package.
    found = find_pipelines(raise_errors=True, pipelines_to_find=[name])
    assert set(found) == {name}
    assert {n.name for n in found[name].nodes} == {n.name for n in registry[name].nodes}
