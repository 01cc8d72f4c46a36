"""The per-track work of feature extraction: :func:`extract_track` is a pure function of one
:class:`TrackTask`. It decodes the file at each rate its families take, one rate at a time
(never holding a long track at several rates), and computes each family computed per track
(:func:`~soundtrack_emotion.core.families.track_features`, the path inference shares; each
worker loads a network once), and hands back the waveform of
a family that the parent batches across tracks (VGGish). A failure the file causes
(:class:`AudioDecodeError`) comes back as the result's ``error`` (or, when only one family
cannot use the track, that family's ``error``); any other exception (a missing checkpoint
included) is a bug or a setup problem and stops the run, naming the track.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from soundtrack_emotion.core.audio import estimate_seconds
from soundtrack_emotion.core.families import (
    Decoding,
    FamilyOutput,
    FeatureFamily,
    rate_groups,
    track_features,
    with_members,
)
from soundtrack_emotion.exceptions import AudioDecodeError
from soundtrack_emotion.runtime.workers import announce_audio_seconds


@dataclass(frozen=True)
class TrackTask:
    """What to compute for one track: the families whose stored features are stale, each in
    the precision the planning process resolved (``precisions``: (family, precision))."""

    id: str
    path: str
    families: tuple[FeatureFamily, ...]
    decoding: Decoding
    precisions: tuple[tuple[str, str], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(family.name for family in self.families)


@dataclass
class FamilyResult:
    """One family's outcome on one track: ``rows`` [n_rows, dims] and its ``extras``, or the
    ``error`` of a track this family alone cannot use (shorter than one MusiCNN patch)."""

    rows: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None


@dataclass
class TrackResult:
    """Outcome of :func:`extract_track`: for a file that cannot be used, ``error`` (the
    message) and ``reason`` (its code) are set instead of raising; ``warnings`` are what the
    decoder reported about a usable file (truncation, replaced samples). ``outputs``: the
    families computed per track; ``waveforms``: the input of those batched across tracks."""

    id: str
    families: tuple[str, ...]
    audio_seconds: float = float("nan")
    error: str | None = None
    reason: str = ""
    warnings: tuple[str, ...] = ()
    decode_seconds: float = 0.0
    outputs: dict[str, FamilyResult] = field(default_factory=dict)
    waveforms: dict[str, np.ndarray] = field(default_factory=dict)


def extract_track(task: TrackTask) -> TrackResult:
    """Decode ``task.path`` and compute what ``task.families`` need, one sample rate at a
    time (:func:`rate_groups`): the track is never held at two rates at once, except the
    waveform handed back for a family batched across tracks."""
    result = TrackResult(id=task.id, families=task.names)
    start = time.perf_counter()
    announce_audio_seconds(estimate_seconds(task.path))
    groups = rate_groups(task.families)
    try:
        audio = task.decoding.decode_by_rate(task.path, groups[0][0])
    except AudioDecodeError as error:
        result.error, result.reason = str(error), error.reason
        return result
    result.audio_seconds, result.warnings = audio.seconds, audio.warnings
    result.decode_seconds = time.perf_counter() - start
    precisions = dict(task.precisions)
    models = {
        family.name: family.load(precisions[family.name])
        for family in with_members(task.families)
        if family.loads_model and not family.batched_across_tracks
    }
    # Each leaf family once, rate by rate; a family that is also a composite family's member
    # is computed once for both.
    computed: dict[str, FamilyOutput] = {}
    failed: dict[str, str] = {}
    spent: dict[str, float] = {}
    for rate, leaves in groups:
        for leaf in leaves:
            if leaf.batched_across_tracks:
                result.waveforms[leaf.name] = audio[rate]
                continue
            start = time.perf_counter()
            try:
                track_features(leaf, audio, models, computed=computed)
            except AudioDecodeError as error:
                failed[leaf.name] = f"{task.path}: {error}"
            spent[leaf.name] = time.perf_counter() - start
    for family in task.families:
        if family.batched_across_tracks:
            continue
        start = time.perf_counter()
        out = FamilyResult()
        # A leaf's time is charged to the first family that needs it, as it was computed.
        leaves_seconds = sum(spent.pop(f.name, 0.0) for f in with_members([family]))
        member_error = next((failed[f.name] for f in with_members([family]) if f.name in failed),
                            None)  # fmt: skip
        if member_error is not None:
            out.error = member_error
        else:
            try:
                rows = track_features(family, audio, models, computed=computed)
                out.rows, out.extras = rows.rows, dict(rows.extras)
            except AudioDecodeError as error:
                out.error = f"{task.path}: {error}"
        out.seconds = time.perf_counter() - start + leaves_seconds
        result.outputs[family.name] = out
    return result


def crashed_track(task: TrackTask, error: BaseException) -> TrackResult:
    """The result of a track that killed its worker process, went over its memory limit or
    killed its worker in an earlier run (``map_tracks``; the reason is the
    :class:`~soundtrack_emotion.runtime.workers.WorkerLost`'s: crash, memory, attempted)."""
    reason = getattr(error, "reason", "crash")
    hint = "; the file is probably damaged" if reason == "crash" else ""
    return TrackResult(
        id=task.id,
        families=task.names,
        error=f"{task.path}: {error}{hint}",
        reason=reason,
    )


def timed_out_track(task: TrackTask, limit_s: float) -> TrackResult:
    """The result of a track whose work overran its time limit (``map_tracks``)."""
    return TrackResult(
        id=task.id,
        families=task.names,
        error=f"{task.path}: timed out after {limit_s:.0f} s (time_limit: the decoder hung or "
        "the file is far longer than its header says)",
        reason="timeout",
    )
