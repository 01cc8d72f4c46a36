"""Fusion: a composite family whose rows are its members' rows side by side, aligned in time,
plus optional interactions (products of named column groups).

Harmony evidence alone says little about valence; it says more in context: a minor key reads
sad in a ballad and tense in metal. A linear head on members placed side by side can only
add their evidence; the interaction columns (e.g. mode strength x MusiCNN's tag
probabilities) let it weigh the one by the other.

Columns are named ``<member>/<column>`` (a member's unnamed columns are numbered) and
``<left>*<right>`` for an interaction; an interaction's groups are ``fnmatch`` patterns over
those names, the members' extras included (``musicnn/tag:*`` also matches the taggram extra
when the MusiCNN layer holds no tags).

Alignment: the rows follow the first member's grid; every other member contributes, for each
row, its row whose centre is nearest (MusiCNN's 2.992 s patches against harmony's 3 s blocks:
the same index for the first ~9 minutes, then one block apart, never drifting further), and
the rows stop where a member has none left. Resampling to a common grid by interpolation
would invent values between blocks; picking the nearest block keeps each row's values real.

Its members are computed once per track (``track_features``) even when they are also
extracted or used on their own, and its fingerprint covers theirs.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Self

import numpy as np

from soundtrack_emotion.core.families.base import Check, FamilyOutput, FeatureFamily
from soundtrack_emotion.exceptions import AudioDecodeError, ParameterError


@dataclass(frozen=True)
class Interaction:
    """Products of every ``left`` column with every ``right`` column (patterns over the
    members' qualified column names)."""

    left: tuple[str, ...]
    right: tuple[str, ...]

    @property
    def groups(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return self.left, self.right

    @classmethod
    def from_params(cls, section: Mapping[str, Any]) -> Interaction:
        return cls(
            left=tuple(str(p) for p in section["left"]),
            right=tuple(str(p) for p in section["right"]),
        )


def aligned_indices(n_rows: Sequence[int], row_seconds: Sequence[float]) -> list[np.ndarray]:
    """For each member, the row nearest in time to each row of the first member's grid:
    ``[n]`` int arrays, ``n`` the reference rows for which every member has one.

    >>> [i.tolist() for i in aligned_indices([4, 3], [2.992, 3.0])]
    [[0, 1, 2], [0, 1, 2]]
    """
    reference = np.arange(n_rows[0])
    centres = (reference + 0.5) * row_seconds[0]
    indices = [np.rint(centres / seconds - 0.5).astype(int) for seconds in row_seconds]
    n = min(int(np.searchsorted(index, rows)) for index, rows in zip(indices, n_rows, strict=True))
    return [index[:n] for index in indices]


@dataclass(frozen=True)
class FusionFamily(FeatureFamily):
    """``feature_extraction.fusion``: ``members`` (family names, the first sets the time grid)
    and ``interactions`` (``{left: [patterns], right: [patterns]}`` each)."""

    name = "fusion"
    display_name = "Fusion"
    rank = 5
    version = 1

    member_names: tuple[str, ...]
    interactions: tuple[Interaction, ...]
    bound: tuple[FeatureFamily, ...] = field(default=(), repr=False)

    @classmethod
    def from_params(cls, section: Mapping[str, Any], *, resolve: Callable[[str], str]) -> Self:
        return cls(
            member_names=tuple(str(name) for name in section["members"]),
            interactions=tuple(Interaction.from_params(i) for i in section["interactions"] or ()),
        )

    @property
    def members(self) -> tuple[str, ...]:
        return self.member_names

    def bind(self, families: Mapping[str, FeatureFamily]) -> Self:
        unknown = [m for m in self.member_names if m not in families]
        if unknown:
            raise ParameterError(
                f"feature_extraction.fusion.members names unknown families {unknown}; "
                f"known: {list(families)}"
            )
        return replace(self, bound=tuple(families[m] for m in self.member_names))

    def member_families(self) -> tuple[FeatureFamily, ...]:
        if len(self.bound) != len(self.member_names):
            raise ParameterError("the fusion family's members were not given (bind)")
        return self.bound

    def _reference(self) -> FeatureFamily:
        return self.member_families()[0]

    @property
    def sample_rate(self) -> int:
        return self._reference().sample_rate

    @property
    def row_seconds(self) -> float:
        """The first member's."""
        return self._reference().row_seconds

    def frame_rows(self, seconds: float) -> int:
        """The first member's rows per frame."""
        return self._reference().frame_rows(seconds)

    def checks(self) -> Iterable[Check]:
        members = self.member_families()
        composite = [m.name for m in members if m.members or m.batched_across_tracks]
        return (
            (len(members) >= 1, "members", list(self.member_names), "one family or more"),
            (
                len(set(self.member_names)) == len(self.member_names),
                "members",
                list(self.member_names),
                "distinct families",
            ),
            (
                not composite,
                "members",
                composite,
                "families computed per track from the waveform (not composite, not VGGish)",
            ),
            (
                not (unmatched := self._unmatched_patterns()),
                "interactions",
                unmatched,
                "patterns matching a member column",
            ),
        )

    def _named_columns(self) -> tuple[str, ...] | None:
        """Every qualified column an interaction may name, or None where one is unnamed."""
        names: list[str] = []
        for member in self.member_families():
            columns = member.columns()
            if columns is None:
                return None
            names += [f"{member.name}/{c}" for c in columns]
            for extra in member.extras:
                names += [f"{member.name}/{c}" for c in member.extra_columns(extra) or ()]
        return tuple(dict.fromkeys(names))

    def _unmatched_patterns(self) -> list[str]:
        names = self._named_columns()
        if names is None:
            return []
        patterns = [p for i in self.interactions for p in (*i.left, *i.right)]
        return [p for p in patterns if not fnmatch.filter(names, p)]

    def spec(self) -> dict[str, Any]:
        """Its members (their own fingerprints join it) and its interactions."""
        return {
            "members": list(self.member_names),
            "interactions": [[list(i.left), list(i.right)] for i in self.interactions],
        }

    def columns(self) -> tuple[str, ...] | None:
        """``<member>/<column>`` for each member's rows, then ``<left>*<right>`` per
        interaction; None when a member's columns are unnamed."""
        names = self._named_columns()
        if names is None:
            return None
        columns = [f"{m.name}/{c}" for m in self.member_families() for c in m.columns() or ()]
        for interaction in self.interactions:
            left, right = (_matching(names, group) for group in interaction.groups)
            columns += [f"{a}*{b}" for a in left for b in right]
        return tuple(columns)

    def column_groups(self) -> tuple[str, ...] | None:
        """Each column's member name, then ``"interactions"`` for the products; None when a
        member's columns are unnamed (their number is then unknown before extraction)."""
        columns = self.columns()
        if columns is None:
            return None
        return tuple("interactions" if "*" in c else c.split("/", 1)[0] for c in columns)

    def compute(self, waveform: np.ndarray, model: Any) -> FamilyOutput:
        raise ParameterError(
            "the fusion family is computed from its members' rows: use track_features"
        )

    def combine(self, outputs: Mapping[str, FamilyOutput]) -> FamilyOutput:
        """Members' rows side by side on the first member's grid, then the interactions:
        [n_rows, sum of members' dims + products] float32."""
        members = self.member_families()
        indices = aligned_indices(
            [len(outputs[m.name].rows) for m in members], [m.row_seconds for m in members]
        )
        if len(indices[0]) == 0:
            raise AudioDecodeError(
                "the fusion family's members have no row in common", reason="too_short"
            )
        tables = {}
        blocks = []
        for member, index in zip(members, indices, strict=True):
            out = outputs[member.name]
            blocks.append(out.rows[index])
            tables |= _qualified(member, out, index)
        for interaction in self.interactions:
            left, right = (
                np.column_stack([tables[name] for name in _matching(tables, group)])
                for group in interaction.groups
            )
            blocks.append((left[:, :, None] * right[:, None, :]).reshape(len(left), -1))
        return FamilyOutput(rows=np.concatenate(blocks, axis=1).astype(np.float32))


def _qualified(member: FeatureFamily, out: FamilyOutput, index: np.ndarray) -> dict[str, Any]:
    """``{"<member>/<column>": values [n]}`` of a member's aligned rows and extras (rows
    first, where a name is both)."""
    tables: dict[str, np.ndarray] = {}
    sources = [(member.columns(), out.rows)] + [
        (member.extra_columns(extra), out.extras[extra]) for extra in out.extras
    ]
    for names, values in sources:
        for i, name in enumerate(names or range(values.shape[1])):
            tables.setdefault(f"{member.name}/{name}", values[index, i])
    return tables


def _matching(names: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """The names matching any pattern, in the names' order."""
    patterns = tuple(patterns)
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


FAMILY = FusionFamily
