"""The MusiCNN VGG family: opt-in, its rows are the VGG's embeddings per 2.992 s patch with the
taggram as an extra, its columns are named, and its settings are checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from soundtrack_emotion.core.embeddings.musicnn_vgg import VGG_LAYERS, vgg_features
from soundtrack_emotion.core.embeddings.pretrained import vgg_checkpoint
from soundtrack_emotion.core.families import DEFAULT_FEATURES, FEATURES, OFFLINE_FEATURES
from soundtrack_emotion.core.families.musicnn_vgg import MusicnnVggFamily
from soundtrack_emotion.exceptions import ModelUnavailableError, ParameterError

CONF = Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_feature_extraction.yml"


@pytest.fixture
def section() -> dict:
    return yaml.safe_load(CONF.read_text())["feature_extraction"]["musicnn_vgg"]


@pytest.fixture
def family(section) -> MusicnnVggFamily:
    return MusicnnVggFamily.from_params(section, resolve=str)


def test_opt_in_registered_but_not_in_the_default_or_offline_runs():
    assert "musicnn_vgg" in FEATURES
    assert "musicnn_vgg" not in DEFAULT_FEATURES and "musicnn_vgg" not in OFFLINE_FEATURES


def test_defaults_are_msd_pool5_and_taggram_one_row_per_patch(family):
    assert (family.model, family.layer) == ("MSD_vgg", "pool5+taggram")
    assert family.frame_rows(15) == 5 and family.frame_rows(30) == 10
    assert family.sample_rate == 16000 and family.row_seconds == pytest.approx(2.992)
    columns = family.columns()
    assert (
        len(columns) == 306
        and columns[0] == "pool5:0"
        and columns[-50:] == (family.extra_columns("taggram"))
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("model", "MSD_musicnn", r"musicnn_vgg\.model must be one of"),
        ("layer", "dense", r"musicnn_vgg\.layer must be one of"),
        ("patch_hop", 0.0, r"musicnn_vgg\.patch_hop must be in \(0, 1\]"),
    ],
)
def test_bad_settings_are_named(section, field, value, message):
    family = MusicnnVggFamily.from_params(section | {field: value}, resolve=str)
    with pytest.raises(ParameterError, match=message):
        family.validate()


def test_without_a_network_compute_says_so(family):
    with pytest.raises(ParameterError, match="no VGG network was given"):
        family.compute(np.zeros(16000 * 4, dtype=np.float32), None)


@pytest.fixture(scope="module")
def weights() -> str:
    try:
        return vgg_checkpoint(None, model="MSD_vgg")
    except ModelUnavailableError as missing:
        pytest.skip(f"no MSD_vgg weights: {missing}")


@pytest.mark.parametrize("layer", VGG_LAYERS)
def test_rows_are_the_vgg_embeddings_and_the_taggram_an_extra(weights, section, layer):
    family = MusicnnVggFamily.from_params(section | {"layer": layer}, resolve=str)
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(16000 * 7)).astype(np.float32)
    model = family.load("float32")

    out = family.compute(y, model)

    embeddings, taggram = vgg_features(y, model=model, layer=layer)
    np.testing.assert_array_equal(out.rows, embeddings)
    np.testing.assert_array_equal(out.extras["taggram"], taggram)
    assert out.rows.shape == (2, len(family.columns())) and taggram.shape == (2, 50)
    assert family.spec()["checkpoint_sha256"]
    top = family.report_fields(lambda name: out.extras[name])["musicnn_vgg_top_tags"]
    assert top.count(",") == 2
