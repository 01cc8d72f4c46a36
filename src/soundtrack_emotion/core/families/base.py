"""What a feature family is: the contract every module of :mod:`soundtrack_emotion.core.families`
fulfils, and the one per-track feature path that extraction and inference share.

A family is a frozen dataclass of its YAML section (``feature_extraction.<name>``) with the
class-level facts that do not depend on it (its name, display name, whether it needs the
network, the engine its network computes in, its version). Everything the pipelines do per
family goes through these methods, never through a branch on the family's name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, Self

import numpy as np

from soundtrack_emotion.core.audio import MAX_SECONDS, Audio, decode
from soundtrack_emotion.exceptions import ParameterError

PARAMS = "feature_extraction"

# One parameter check: (passes, dotted name under the family's section, value, what it must be).
Check = tuple[bool, str, Any, str]


@dataclass(frozen=True)
class FamilyOutput:
    """A family's result on one track: ``rows`` [n_rows, dims] float32, one row per
    ``row_seconds``, and its named ``extras`` (e.g. MusiCNN's taggram [n_rows, n_tags])."""

    rows: np.ndarray
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)


class Batcher(Protocol):
    """Rows of many tracks computed together (see ``FeatureFamily.batcher``): ``add`` and
    ``flush`` return the tracks completed so far as ``(key, rows [N, dims])``."""

    seconds_spent: dict[str, float]

    def add(self, key: str, waveform: np.ndarray) -> list[tuple[str, np.ndarray]]: ...

    def flush(self) -> list[tuple[str, np.ndarray]]: ...

    @property
    def pending(self) -> int: ...


class FeatureFamily(ABC):
    """One feature family, parsed from ``feature_extraction.<name>`` (:meth:`from_params`)."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    # Position in every listing (pipelines, reports, the catalog's nodes).
    rank: ClassVar[int]
    # Bump when the computation changes, so that stored features are recomputed.
    version: ClassVar[int]
    # Its model is downloaded at run time: left out of the offline pipelines.
    needs_network: ClassVar[bool] = False
    # Left out of the default and offline runs until it is shown to help: its own pipelines
    # (feature_extraction, modelling) still offer it.
    opt_in: ClassVar[bool] = False
    # How ``core.precision`` converts its network ("keras" or "graph"); None: NumPy, float32.
    precision_engine: ClassVar[str | None] = None
    # Computed in the parent process across tracks (:meth:`batcher`), not in the workers.
    batched_across_tracks: ClassVar[bool] = False
    # Named arrays stored next to the rows, one row each.
    extras: ClassVar[tuple[str, ...]] = ()
    # Columns the extraction report adds for it (see :meth:`report_fields`).
    report_columns: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def from_params(cls, section: Mapping[str, Any], *, resolve: Callable[[str], str]) -> Self:
        """The family from its YAML section; ``resolve`` makes a local path absolute. Raises
        ``KeyError`` for a missing key (the caller names it)."""

    # Hz of the mono waveform :meth:`compute` takes (a field, or a property of a constant).
    sample_rate: int

    @property
    @abstractmethod
    def row_seconds(self) -> float:
        """Seconds between consecutive rows."""

    @abstractmethod
    def frame_rows(self, seconds: float) -> int:
        """Rows of one ``seconds``-long model frame (raises ``ParameterError`` when none)."""

    @abstractmethod
    def checks(self) -> Iterable[Check]:
        """The parameter checks of its section."""

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """What its stored features depend on, for the fingerprint."""

    @property
    def members(self) -> tuple[str, ...]:
        """The families whose rows a composite family combines (:meth:`combine`); () for a
        family computed from the waveform."""
        return ()

    def bind(self, families: Mapping[str, FeatureFamily]) -> Self:
        """This family given every family's parsed settings by name (a composite family
        keeps its members'); the family itself for the others."""
        return self

    def member_families(self) -> tuple[FeatureFamily, ...]:
        """Its members' settings, once :meth:`bind` gave them (() for a plain family)."""
        return ()

    def combine(self, outputs: Mapping[str, FamilyOutput]) -> FamilyOutput:
        """A composite family's rows from its members' ``outputs`` (by name)."""
        raise NotImplementedError(f"{self.name} is not a composite family")

    def columns(self) -> tuple[str, ...] | None:
        """The names of its rows' columns; None where they are unnamed (numbered)."""
        return None

    def extra_columns(self, extra: str) -> tuple[str, ...] | None:
        """The names of the columns of its extra ``extra``; None where they are unnamed."""
        return None

    def column_groups(self) -> tuple[str, ...] | None:
        """The evidence each row column belongs to (a composite family's member, or its
        interactions), for heads that weigh each group alike (:func:`balanced_weights`); None
        where all columns are one kind of evidence."""
        return None

    @property
    def loads_model(self) -> bool:
        """Whether :meth:`load` loads a network (checked before a run that computes it)."""
        return self.precision_engine is not None

    def load(self, precision: str) -> Any:
        """Its network computing in ``precision``, loaded once per process (None: no network);
        raises ``ModelUnavailableError`` saying how to provide a missing one."""
        return None

    def describe_source(self) -> str:
        """What the check before a run checks, for its log line ("that VGGish loads from ...")."""
        return f"that {self.display_name} loads"

    @abstractmethod
    def compute(self, waveform: np.ndarray, model: Any) -> FamilyOutput:
        """Its rows of one mono ``waveform`` [n] float32 at :attr:`sample_rate`. Raises
        ``AudioDecodeError`` when the track cannot give this family one row."""

    def batcher(self, model: Any) -> Batcher | None:
        """A batcher computing many tracks' rows together (the same rows as :meth:`compute`),
        for a network that runs in the parent process rather than in the workers; None for
        families computed per track."""
        return None

    def report_fields(self, extra: Callable[[str], np.ndarray]) -> dict[str, str]:
        """Its :attr:`report_columns` for one stored track (``extra(name)`` reads an extra)."""
        return {}

    def validate(self) -> None:
        for ok, name, value, expected in self.checks():
            if not ok:
                raise ParameterError(
                    f"{PARAMS}.{self.name}.{name} must be {expected}, got {value!r}"
                )


def whole_blocks(seconds: float, *, block_seconds: float, what: str) -> int:
    """The whole ``block_seconds`` blocks in a ``seconds``-long frame (a family's
    ``frame_rows`` on a fixed block grid); ``ParameterError`` names ``what`` block is missing.

    >>> [whole_blocks(s, block_seconds=3.0, what="harmony") for s in (15, 30, 4.5)]
    [5, 10, 1]
    """
    if seconds <= 0:
        raise ParameterError(f"frame seconds must be positive, got {seconds!r}")
    rows = int(seconds // block_seconds)
    if rows < 1:
        raise ParameterError(f"a {seconds!r} s frame holds no whole {block_seconds} s {what} block")
    return rows


def balanced_weights(groups: Sequence[str]) -> np.ndarray:
    """Per-column weights [F] giving each of the ``G`` groups the same total weight:
    ``sqrt(F / (G x d_g))`` for a column of a group of ``d_g`` columns, so that the squared
    weights still sum to ``F`` (a 200-column embedding beside a 3-column key estimate no longer
    drowns it in a distance or a ridge penalty).

    >>> balanced_weights(["a", "a", "a", "b"]).round(3).tolist()
    [0.816, 0.816, 0.816, 1.414]
    """
    names, index, sizes = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    return np.sqrt(len(groups) / (len(names) * sizes[index]))


@dataclass(frozen=True)
class Decoding:
    """How a track is decoded for the families (``feature_extraction.audio`` and
    ``framing.short_track.min_seconds``)."""

    resample_quality: str
    silence_db: float
    min_seconds: float
    # ``audio.max_seconds``: a longer track is refused while it is decoded.
    max_seconds: float = MAX_SECONDS

    def decode(self, path: str, families: Iterable[FeatureFamily]) -> Audio:
        """``path`` decoded once, resampled to every rate ``families`` (and their members)
        take, all held at once (see :meth:`decode_by_rate` for long tracks)."""
        rates = list(dict.fromkeys(family.sample_rate for family in with_members(families)))
        return self._decode(path, rates)

    def decode_by_rate(self, path: str, first_rate: int) -> RateByRate:
        """``path`` decoded at ``first_rate`` now (raising what decoding raises), at any other
        rate when it is asked for: see :class:`RateByRate`."""
        return RateByRate(self, path, first_rate)

    def _decode(self, path: str, rates: Sequence[int]) -> Audio:
        return decode(
            path,
            sample_rates=rates,
            min_seconds=self.min_seconds,
            silence_db=self.silence_db,
            quality=self.resample_quality,
            max_seconds=self.max_seconds,
        )


class RateByRate:
    """One track held at one sample rate at a time: ``audio[rate]`` is its waveform at
    ``rate``; asking for another rate than the one held drops it, then decodes the file again
    at the new rate. A long track is so never held at several rates (a decode costs ~1.4 % of a
    track's feature time); :func:`rate_groups` orders the work so that each rate is decoded
    once. Every decode of a file gives the same samples, length and warnings, so ``seconds``,
    ``warnings`` and the other :class:`Audio` fields are the first decode's."""

    def __init__(self, decoding: Decoding, path: str, first_rate: int) -> None:
        self._decoding, self._path = decoding, path
        self._held: Audio | None = decoding._decode(path, (first_rate,))
        first = self._held
        self.path, self.seconds, self.warnings = first.path, first.seconds, first.warnings
        self.native_sample_rate, self.channels = first.native_sample_rate, first.channels
        self.decoder, self.header_seconds = first.decoder, first.header_seconds
        # How many times the file was decoded.
        self.decodes = 1

    def __getitem__(self, sample_rate: int) -> np.ndarray:
        if self._held is None or sample_rate not in self._held.waveforms:
            self._held = None  # dropped before the next rate is decoded
            self._held = self._decoding._decode(self._path, (sample_rate,))
            self.decodes += 1
        return self._held[sample_rate]


def rate_groups(
    families: Iterable[FeatureFamily], *, also: Iterable[int] = ()
) -> list[tuple[int, tuple[FeatureFamily, ...]]]:
    """The leaf families (no members) that ``families`` need, grouped by sample rate:
    ``[(rate, leaves)]``, the rates in order of first need, then the ``also`` rates no leaf
    needs (with no leaves). Computing the leaves group by group, then the composite families
    from them, decodes each rate once with :class:`RateByRate`."""
    groups: dict[int, list[FeatureFamily]] = {}
    for family in with_members(families):
        if not family.members:
            groups.setdefault(family.sample_rate, []).append(family)
    for rate in also:
        groups.setdefault(rate, [])
    return [(rate, tuple(leaves)) for rate, leaves in groups.items()]


def with_members(families: Iterable[FeatureFamily]) -> tuple[FeatureFamily, ...]:
    """``families`` and, before each composite one, its members: every family a track's
    features need computed, each once, members first."""
    out: dict[str, FeatureFamily] = {}
    for family in families:
        for member in with_members(family.member_families()):
            out.setdefault(member.name, member)
        out.setdefault(family.name, family)
    return tuple(out.values())


def track_features(
    family: FeatureFamily,
    audio: Audio | RateByRate,
    models: Mapping[str, Any],
    *,
    computed: dict[str, FamilyOutput] | None = None,
) -> FamilyOutput:
    """``family``'s rows of one decoded track: the one feature path, for training
    (feature_extraction) and inference alike. ``models``: the loaded networks by family name
    (a family without one is absent). ``computed``: the outputs already computed for this
    track, by family name; what this call computes joins it, so that a family that is also
    another's member is computed once per track."""
    computed = {} if computed is None else computed
    if family.name not in computed:
        if family.members:
            parts = {
                member.name: track_features(member, audio, models, computed=computed)
                for member in family.member_families()
            }
            computed[family.name] = family.combine(parts)
        else:
            computed[family.name] = family.compute(
                audio[family.sample_rate], models.get(family.name)
            )
    return computed[family.name]
