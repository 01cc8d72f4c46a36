"""The fusion family on synthetic members: time alignment, interactions, one computation per
member and track, and a fingerprint that follows its members."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pytest
import yaml

from soundtrack_emotion.core.audio import Audio
from soundtrack_emotion.core.families import FamilyOutput, FeatureFamily, track_features
from soundtrack_emotion.core.families.base import Check, with_members
from soundtrack_emotion.core.families.fusion import FusionFamily, Interaction, aligned_indices
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.runtime.feature_settings import ExtractionParams

CONF = Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_feature_extraction.yml"
SR = 1000


@dataclass(frozen=True)
class Ramp(FeatureFamily):
    """A fake family: row i of a track is ``offset + i`` in every column; counts its calls."""

    name: ClassVar[str] = "ramp"
    display_name = "Ramp"
    rank = 90
    version = 1
    calls: ClassVar[list[str]] = []

    seconds: float
    names: tuple[str, ...]
    offset: float = 0.0
    label: str = "ramp"
    sample_rate: int = SR

    @classmethod
    def from_params(cls, section: Mapping[str, Any], *, resolve: Callable[[str], str]) -> Self:
        raise NotImplementedError

    @property
    def row_seconds(self) -> float:
        return self.seconds

    def frame_rows(self, seconds: float) -> int:
        return int(seconds // self.seconds)

    def checks(self) -> Iterable[Check]:
        return ()

    def spec(self) -> dict[str, Any]:
        return {"seconds": self.seconds}

    def columns(self) -> tuple[str, ...]:
        return self.names

    def compute(self, waveform: np.ndarray, model: Any) -> FamilyOutput:
        Ramp.calls.append(self.name)
        n = int(len(waveform) / self.sample_rate // self.seconds)
        rows = self.offset + np.repeat(np.arange(n, dtype=np.float32)[:, None], len(self.names), 1)
        return FamilyOutput(rows=rows * np.arange(1, len(self.names) + 1, dtype=np.float32))


def ramp(name: str, seconds: float, names: tuple[str, ...], offset: float = 0.0) -> Ramp:
    family = Ramp(seconds=seconds, names=names, offset=offset)
    object.__setattr__(family, "name", name)  # an instance-level name: two fake families
    return family


@pytest.fixture
def members() -> dict[str, FeatureFamily]:
    Ramp.calls.clear()
    return {
        "patches": ramp("patches", 2.992, ("a", "b")),
        "blocks": ramp("blocks", 3.0, ("mode", "tempo", "key"), offset=10.0),
    }


def fusion(members, interactions=()) -> FusionFamily:
    family = FusionFamily(member_names=("patches", "blocks"), interactions=tuple(interactions))
    return family.bind(members)


def audio(seconds: float) -> Audio:
    waveform = np.zeros(round(seconds * SR), dtype=np.float32)
    return Audio("track", SR, 1, seconds, "test", {SR: waveform})


def test_alignment_follows_the_first_members_grid_without_drifting():
    patches, blocks = aligned_indices([400, 398], [2.992, 3.0])

    # 399 patches end at 1193.8 s: the last one's nearest block, the 399th, does not exist.
    assert len(patches) == len(blocks) == 399
    np.testing.assert_array_equal(patches, np.arange(399))
    # The same index for the first ~9 minutes, then the nearest block: never more than one off.
    assert (blocks[:180] == np.arange(180)).all() and blocks.max() == 397
    assert set(np.arange(399) - blocks) == {0, 1}


def test_alignment_stops_where_a_member_has_no_row_left():
    first, second = aligned_indices([10, 3], [1.0, 3.0])

    assert first.tolist() == list(range(9)) and second.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_rows_are_the_members_side_by_side_then_the_interactions(members):
    family = fusion(members, [Interaction(left=("blocks/mode",), right=("patches/*",))])

    rows = track_features(family, audio(9.5), {}).rows

    assert rows.shape == (3, 2 + 3 + 2)
    np.testing.assert_array_equal(rows[:, :2], [[0, 0], [1, 2], [2, 4]])
    np.testing.assert_array_equal(rows[:, 2:5], [[10, 20, 30], [11, 22, 33], [12, 24, 36]])
    np.testing.assert_array_equal(rows[:, 5:], rows[:, [2]] * rows[:, :2])
    assert family.columns() == (
        "patches/a", "patches/b", "blocks/mode", "blocks/tempo", "blocks/key",
        "blocks/mode*patches/a", "blocks/mode*patches/b",
    )  # fmt: skip
    assert family.row_seconds == 2.992 and family.frame_rows(15) == 5


def test_a_member_is_computed_once_per_track_when_fusion_is_computed_too(members):
    family = fusion(members)
    computed: dict[str, FamilyOutput] = {}
    track = audio(12.0)

    for wanted in (members["patches"], family, members["blocks"]):
        track_features(wanted, track, {}, computed=computed)

    assert sorted(Ramp.calls) == ["blocks", "patches"]
    assert [f.name for f in with_members([family])] == ["patches", "blocks", "fusion"]


def test_interaction_patterns_that_match_no_column_are_refused(members):
    family = fusion(members, [Interaction(left=("blocks/mood",), right=("patches/*",))])

    with pytest.raises(ParameterError, match=r"fusion\.interactions must be patterns matching"):
        family.validate()


def test_unknown_and_composite_members_are_refused(members):
    with pytest.raises(ParameterError, match=r"unknown families \['chords'\]"):
        FusionFamily(member_names=("patches", "chords"), interactions=()).bind(members)
    inner = fusion(members)
    outer = FusionFamily(member_names=("patches", "fusion"), interactions=()).bind(
        members | {"fusion": inner}
    )
    with pytest.raises(ParameterError, match=r"fusion\.members must be families computed"):
        outer.validate()


@pytest.fixture
def settings() -> dict:
    return copy.deepcopy(yaml.safe_load(CONF.read_text())["feature_extraction"])


def fingerprint(settings: dict, name: str = "fusion") -> str:
    return ExtractionParams.from_dict(settings).fingerprint(name, with_precision=False)


def test_the_fingerprint_follows_the_members_and_the_interactions(settings, monkeypatch):
    monkeypatch.setattr(
        "soundtrack_emotion.core.families.musicnn.checkpoint_sha256", lambda path: "weights"
    )
    monkeypatch.setattr(
        "soundtrack_emotion.core.families.musicnn.musicnn_checkpoint", lambda *a, **k: "path"
    )
    base = fingerprint(settings)
    changes = {
        "harmony block": ("harmony", "block_seconds", 6.0),
        "musicnn hop": ("musicnn", "patch_hop", 0.5),
        "interactions": ("fusion", "interactions", []),
    }
    for what, (section, key, value) in changes.items():
        changed = copy.deepcopy(settings)
        changed[section][key] = value
        assert fingerprint(changed) != base, what
    unrelated = copy.deepcopy(settings)
    unrelated["mfcc"]["n_mfcc"] = 20
    assert fingerprint(unrelated) == base
