"""Which networks model each feature family: ``modelling.variants`` from conf/base, overridden
by conf/local, and the modelling pipeline built from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.modelling import create_pipeline
from soundtrack_emotion.runtime.variants import networks_by_feature

FEATURES = ("mfcc", "musicnn", "harmony", "fusion")
FALLBACK = ("cnn", "lstm")
PROJECT_CONF = Path(__file__).resolve().parents[2] / "conf"


def conf(tmp_path: Path, base: dict, local: dict | None = None) -> Path:
    for env, parameters in (("base", base), ("local", local or {})):
        (tmp_path / env).mkdir(parents=True, exist_ok=True)
        (tmp_path / env / "parameters.yml").write_text(yaml.safe_dump(parameters))
    return tmp_path


def test_the_project_models_harmony_and_fusion_with_light_heads_only():
    networks = networks_by_feature(FEATURES, fallback=FALLBACK, conf_source=PROJECT_CONF)

    assert networks["harmony"] == networks["fusion"] == ("ridge", "kernel", "mlp")
    assert networks["mfcc"] == networks["musicnn"] == ("cnn", "lstm", "ridge", "mlp")


def test_no_light_families_in_conf_local_is_every_network_on_every_family(tmp_path):
    variants = {
        "networks": ["cnn", "ridge"],
        "light_families": ["harmony"],
        "light_networks": ["ridge"],
    }
    base = {"modelling": {"seed": 1, "variants": variants}}
    local = {"modelling": {"variants": {"light_families": []}}}

    networks = networks_by_feature(
        FEATURES, fallback=FALLBACK, conf_source=conf(tmp_path, base, local)
    )

    assert set(networks.values()) == {("cnn", "ridge")}


def test_without_the_setting_every_family_gets_the_fallback(tmp_path):
    networks = networks_by_feature(FEATURES, fallback=FALLBACK, conf_source=conf(tmp_path, {}))

    assert set(networks.values()) == {FALLBACK}


def test_an_incomplete_setting_is_named(tmp_path):
    base = {"modelling": {"variants": {"networks": ["cnn"]}}}
    with pytest.raises(ParameterError, match=r"modelling\.variants must hold the lists"):
        networks_by_feature(FEATURES, fallback=FALLBACK, conf_source=conf(tmp_path, base))


def test_the_modelling_pipeline_builds_each_familys_own_networks():
    pipeline = create_pipeline(
        features=("mfcc", "harmony"), networks={"mfcc": ("cnn",), "harmony": ("ridge", "mlp")}
    )

    variants = {n.namespace.split(".")[0] for n in pipeline.nodes if n.namespace}
    assert variants == {"mfcc_cnn", "harmony_ridge", "harmony_mlp"}
