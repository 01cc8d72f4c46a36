"""``params:feature_extraction`` parsed and checked: the settings every family shares
(decoding, framing, time limit, failures, workers, precision), each registered family's own
section (:mod:`soundtrack_emotion.core.families`), and the fingerprint of a family's stored
features. Feature extraction, modelling and inference read the parameters through it, so that
inference computes features exactly as training did."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from soundtrack_emotion.core.audio import MAX_SECONDS, RESAMPLE_QUALITIES
from soundtrack_emotion.core.families import (
    FAMILIES,
    PARAMS,
    Decoding,
    FeatureFamily,
    family_class,
    with_members,
)
from soundtrack_emotion.core.framing import SHORT_TRACK_POLICIES
from soundtrack_emotion.core.precision import (
    AUTO,
    BFLOAT16,
    FLOAT32,
    Choice,
    announce,
    check_precision,
    resolved,
)
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.runtime.paths import resolve_path
from soundtrack_emotion.runtime.workers import TimeLimit, check_memory_limit


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's total)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _local_path(path: str) -> str:
    return str(resolve_path(path))


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ParameterError(f"{PARAMS}.{name} must be true or false, got {value!r}")
    return value


def _bound(families: Mapping[str, FeatureFamily]) -> dict[str, FeatureFamily]:
    """Every family given the others' settings (a composite family keeps its members')."""
    return {name: family.bind(families) for name, family in families.items()}


@dataclass(frozen=True)
class ExtractionParams:
    """``params:feature_extraction``, validated (see parameters_feature_extraction.yml); each
    family's settings by its name (``params.mfcc.hop_length``) or :meth:`family`."""

    workers: int
    decoding: Decoding
    families: Mapping[str, FeatureFamily]
    frame_hop: float
    short_track_policy: str
    time_limit: TimeLimit
    max_same_failure_share: float
    failure_min_tracks: int
    # Resident memory a worker process may use (MB; None: no limit), and whether tracks an
    # earlier run's attempt markers hold back are tried again.
    memory_limit_mb: float | None = None
    retry_attempted: bool = False
    # The ``precision`` setting, resolved per network by precision_of (only once it is
    # used), unless ``pinned`` ((family, precision) pairs) fixes it.
    precision: str = AUTO
    pinned: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_dict(
        cls, params: Mapping[str, Any], *, pinned: Mapping[str, str] | None = None
    ) -> ExtractionParams:
        """Validated parameters. ``pinned``: ``{family: float32 | bfloat16}`` resolved by
        another process (:meth:`precision_of`), used instead of resolving ``precision`` here,
        so that a remote worker computes what the fingerprint says."""
        try:
            setting = check_precision(params["precision"], name=f"{PARAMS}.precision")
            audio, framing = params["audio"], params["framing"]
            short = framing["short_track"]
            limit, failures = params["time_limit"], params["failures"]
            result = cls(
                workers=int(params.get("workers") or available_cores()),
                decoding=Decoding(
                    resample_quality=str(audio["resample_quality"]),
                    silence_db=float(audio["silence_db"]),
                    min_seconds=float(short["min_seconds"]),
                    max_seconds=float(audio.get("max_seconds", MAX_SECONDS)),
                ),
                families=_bound(
                    {
                        name: family.from_params(params[name], resolve=_local_path)
                        for name, family in FAMILIES.items()
                    }
                ),
                frame_hop=float(framing["hop"]),
                short_track_policy=str(short["policy"]),
                time_limit=TimeLimit(
                    seconds_per_audio_second=float(limit["seconds_per_audio_second"]),
                    min_seconds=float(limit["min_seconds"]),
                ),
                max_same_failure_share=float(failures["max_same_reason_share"]),
                failure_min_tracks=int(failures["min_tracks"]),
                memory_limit_mb=check_memory_limit(params.get("memory_limit_mb")),
                retry_attempted=_flag(params.get("retry_attempted", False), "retry_attempted"),
                precision=setting,
                pinned=tuple(sorted(dict(pinned or {}).items())),
            )
        except KeyError as missing:
            raise ParameterError(f"feature_extraction parameter {missing} is missing") from None
        result._validate()
        return result

    def __getattr__(self, name: str) -> FeatureFamily:
        families = self.__dict__.get("families", {})
        if name in families:
            return families[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def family(self, name: str) -> FeatureFamily:
        """The settings of the family called ``name``."""
        family_class(name)
        return self.families[name]

    def with_members(self, names: Iterable[str]) -> tuple[str, ...]:
        """``names`` and their members: every family their features need, members first."""
        return tuple(f.name for f in with_members(self.family(name) for name in names))

    @property
    def resample_quality(self) -> str:
        return self.decoding.resample_quality

    @property
    def silence_db(self) -> float:
        return self.decoding.silence_db

    @property
    def min_seconds(self) -> float:
        return self.decoding.min_seconds

    def _validate(self) -> None:
        d = self.decoding
        checks = (
            (self.workers >= 1, "workers", self.workers, ">= 1 (or null for all cores)"),
            (
                d.resample_quality in RESAMPLE_QUALITIES,
                "audio.resample_quality",
                d.resample_quality,
                f"one of {RESAMPLE_QUALITIES}",
            ),
            (d.silence_db < 0, "audio.silence_db", d.silence_db, "negative (dBFS)"),
            (d.max_seconds > 0, "audio.max_seconds", d.max_seconds, "> 0 (seconds)"),
            (0 < self.frame_hop <= 1, "framing.hop", self.frame_hop, "in (0, 1]"),
            (
                self.short_track_policy in SHORT_TRACK_POLICIES,
                "framing.short_track.policy",
                self.short_track_policy,
                f"one of {SHORT_TRACK_POLICIES}",
            ),
            (d.min_seconds >= 0, "framing.short_track.min_seconds", d.min_seconds, ">= 0"),
            (
                self.time_limit.seconds_per_audio_second > 0,
                "time_limit.seconds_per_audio_second",
                self.time_limit.seconds_per_audio_second,
                "> 0",
            ),
            (
                self.time_limit.min_seconds > 0,
                "time_limit.min_seconds",
                self.time_limit.min_seconds,
                "> 0",
            ),
            (
                0 < self.max_same_failure_share <= 1,
                "failures.max_same_reason_share",
                self.max_same_failure_share,
                "in (0, 1]",
            ),
            (self.failure_min_tracks >= 1, "failures.min_tracks", self.failure_min_tracks, ">= 1"),
        )
        for ok, name, value, expected in checks:
            if not ok:
                raise ParameterError(f"{PARAMS}.{name} must be {expected}, got {value!r}")
        for family in self.families.values():
            family.validate()
        for name, precision in self.pinned:
            if (
                FAMILIES.get(name) is None
                or FAMILIES[name].precision_engine is None
                or (precision not in (FLOAT32, BFLOAT16))
            ):
                raise ParameterError(f"cannot pin {name!r} to precision {precision!r}")

    def precision_of(self, name: str) -> str:
        """The precision ``name``'s network computes in here (``float32`` or ``bfloat16``; a
        family without a network is NumPy: always float32), logged once per process with the
        reason. Raises :class:`ParameterError` for a precision this process cannot run."""
        family = self.family(name)
        if family.precision_engine is None:
            return FLOAT32
        pinned = dict(self.pinned).get(name)
        setting = f"{PARAMS}.precision"
        choice = (
            Choice(pinned, "as resolved by the process that planned the run")
            if pinned
            else resolved(self.precision, name=setting, engine=family.precision_engine)
        )
        announce(setting, self.precision, family.display_name, choice)
        return choice.precision

    def load_model(self, name: str) -> Any:
        """``name``'s network in :meth:`precision_of` (None for a family without one)."""
        family = self.family(name)
        return family.load(self.precision_of(name)) if family.loads_model else None

    def fingerprint(self, name: str, *, with_precision: bool = True) -> str:
        """Hash of everything the stored features of ``name`` depend on, the silence
        threshold and the network's precision included (a stricter threshold must turn stored
        ``ok`` records into errors; bfloat16 features are never mixed with float32 ones).

        ``with_precision=False``: the same without the precision (nothing is resolved), the
        identity of the features a model is trained on: a model trained on float32 features
        stays current for bfloat16 ones, which approximate them (see docs), and vice versa."""
        family = self.family(name)
        spec = family.spec() | {
            "family": name,
            "version": family.version,
            "resample_quality": self.resample_quality,
            "silence_db": self.silence_db,
        }
        # A composite family's rows change whenever a member's do.
        if family.members:
            spec["members"] = {
                member: self.fingerprint(member, with_precision=with_precision)
                for member in family.members
            }
        # Only a non-default precision enters the hash: float32 features stored before the
        # setting existed keep their fingerprint.
        if with_precision and (precision := self.precision_of(name)) != FLOAT32:
            spec["precision"] = precision
        blob = json.dumps(spec, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
