"""The feature-family registry: every family module is found, parses its YAML section and
keeps the contract the pipelines rely on (rows per frame, seconds per row, fingerprint spec)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from soundtrack_emotion.core import families
from soundtrack_emotion.core.families import (
    DEFAULT_FEATURES,
    FAMILIES,
    FEATURES,
    OFFLINE_FEATURES,
    FeatureFamily,
    display_name,
    family_class,
)
from soundtrack_emotion.core.families.mfcc import MfccFamily
from soundtrack_emotion.exceptions import ModelUnavailableError, ParameterError

CONF = Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_feature_extraction.yml"


def sections() -> dict:
    return yaml.safe_load(CONF.read_text())["feature_extraction"]


def test_every_family_module_is_registered_in_rank_order() -> None:
    modules = {p.stem for p in Path(families.__file__).parent.glob("*.py")}
    assert set(FEATURES) == modules - {"__init__", "base"}
    assert [FAMILIES[f].rank for f in FEATURES] == sorted(FAMILIES[f].rank for f in FEATURES)
    assert tuple(f for f in FEATURES if not FAMILIES[f].opt_in) == DEFAULT_FEATURES
    assert tuple(f for f in DEFAULT_FEATURES if not FAMILIES[f].needs_network) == OFFLINE_FEATURES
    assert display_name("vggish") == "VGGish" and display_name("musicnn") == "MusiCNN"
    with pytest.raises(ParameterError, match="unknown feature 'chroma'"):
        family_class("chroma")


def parsed() -> dict[str, FeatureFamily]:
    """Every family from its section, given the others (a composite family's members)."""
    families = {n: FAMILIES[n].from_params(sections()[n], resolve=str) for n in FEATURES}
    return {name: family.bind(families) for name, family in families.items()}


@pytest.mark.parametrize("name", FEATURES)
def test_each_family_parses_its_yaml_section_and_keeps_the_contract(name: str) -> None:
    family = parsed()[name]
    assert isinstance(family, FeatureFamily) and family.name == name
    family.validate()
    for seconds in (15, 30):
        rows = family.frame_rows(seconds)
        # A frame of `seconds` holds whole rows of the family's own grid: never more audio.
        assert rows >= 1 and rows * family.row_seconds <= seconds + family.row_seconds
    assert family.sample_rate > 0
    # A spec may hash weights this machine lacks.
    with contextlib.suppress(ModelUnavailableError):
        json.dumps(family.spec())
    # The extraction report's columns of one family never collide with another's.
    assert all(column.startswith(f"{name}_") for column in family.report_columns)


def test_a_bad_value_in_a_family_section_is_named_with_its_family() -> None:
    section = sections()["mfcc"] | {"hop_length": 0}
    with pytest.raises(ParameterError, match=r"feature_extraction\.mfcc\.hop_length must be > 0"):
        MfccFamily.from_params(section, resolve=str).validate()


def test_mfcc_rows_follow_its_row_seconds() -> None:
    family = MfccFamily.from_params(sections()["mfcc"], resolve=str)
    seconds = 4.0
    y = np.sin(np.linspace(0, 2000, int(seconds * family.sample_rate))).astype(np.float32)
    out = family.compute(y, family.load("float32"))
    assert out.rows.shape == (1 + len(y) // family.hop_length, family.n_mfcc - family.drop_c0)
    assert abs(len(out.rows) * family.row_seconds - seconds) < 2 * family.row_seconds
    assert dict(out.extras) == {}
