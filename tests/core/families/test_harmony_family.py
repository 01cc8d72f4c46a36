"""The harmony family: its rows are core.harmony's features on its block grid, its frames are
whole blocks, and its fingerprint follows its settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from soundtrack_emotion.core.families import FAMILIES, OFFLINE_FEATURES
from soundtrack_emotion.core.families.harmony import HarmonyFamily
from soundtrack_emotion.core.harmony import HARMONY_FEATURE_NAMES, harmony_features
from soundtrack_emotion.exceptions import ParameterError

CONF = Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_feature_extraction.yml"


@pytest.fixture
def family() -> HarmonyFamily:
    section = yaml.safe_load(CONF.read_text())["feature_extraction"]["harmony"]
    return HarmonyFamily.from_params(section, resolve=str)


def chord(seconds: float, *, sr: int) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * 440 * 2 ** (step / 12) * t) for step in (0, 4, 7))
    return (0.2 * y).astype(np.float32)


def test_registered_offline_without_a_network(family):
    assert FAMILIES["harmony"] is HarmonyFamily and "harmony" in OFFLINE_FEATURES
    assert not family.loads_model and family.load("float32") is None


def test_rows_are_the_harmony_features_one_per_block(family):
    y = chord(7.5, sr=family.sample_rate)

    out = family.compute(y, None)

    assert out.rows.shape == (2, len(HARMONY_FEATURE_NAMES)) and out.rows.dtype == np.float32
    np.testing.assert_array_equal(out.rows, harmony_features(y, sr=family.sample_rate))
    assert dict(out.extras) == {}


@pytest.mark.parametrize(("seconds", "rows"), [(15, 5), (30, 10), (3, 1)])
def test_a_frame_is_whole_blocks(family, seconds, rows):
    assert family.frame_rows(seconds) == rows


def test_a_frame_shorter_than_a_block_is_refused(family):
    with pytest.raises(ParameterError, match=r"no whole 3\.0 s harmony block"):
        family.frame_rows(2.0)


def test_spec_follows_the_block_length_and_names_the_columns(family):
    longer = HarmonyFamily(sample_rate=family.sample_rate, block_seconds=6.0)

    assert family.spec() != longer.spec()
    assert family.spec()["columns"] == list(HARMONY_FEATURE_NAMES)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sample_rate", 8000, r"harmony\.sample_rate must be >= 16000"),
        ("block_seconds", 0.5, r"harmony\.block_seconds must be >= 1\.0"),
    ],
)
def test_bad_settings_are_named(family, field, value, message):
    settings = {"sample_rate": family.sample_rate, "block_seconds": family.block_seconds}
    bad = HarmonyFamily(**(settings | {field: value}))
    with pytest.raises(ParameterError, match=message):
        bad.validate()
