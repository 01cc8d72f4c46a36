"""The thesis's labelling rule: a track's VAD is the count-weighted mean of its mood tags' VAD.

For one track, the Last.fm tags that the tag filter keeps (``tag_filter``: the thesis's
stop-list, or the affect filter) and that are in the lexicon are its mood tags; with counts
``c_i`` and lexicon scores ``v_i``::

    valence = sum(v_i * c_i) / sum(c_i)        (likewise arousal and dominance)

Tags are compared in a normal form (``normalise_tag``) so case, stray spaces and hyphen vs
space do not hide a match. Tags that normalise to the same word are one tag: their counts add.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from soundtrack_emotion.core.lexicon import normalise_tag
from soundtrack_emotion.exceptions import ParameterError


class DropReason:
    """Why a crawled track did not make it into ``soundtracks`` (first failing step)."""

    NO_TAG_RESPONSE = "no_tag_response"
    LASTFM_ERROR = "lastfm_error"
    MALFORMED_TAG_RESPONSE = "malformed_tag_response"
    NO_TAGS = "no_tags"
    NO_MOOD_TAGS = "no_mood_tags"
    ONLY_NON_AFFECT_TAGS = "only_non_affect_tags"  # lexicon tags there, all non-affect
    ZERO_MOOD_WEIGHT = "zero_mood_weight"
    NO_SPOTIFY_RESPONSE = "no_spotify_response"
    MALFORMED_SPOTIFY_RESPONSE = "malformed_spotify_response"
    NO_SPOTIFY_MATCH = "no_spotify_match"
    NO_AUDIO_FILE = "no_audio_file"


@dataclass(frozen=True)
class MoodLabel:
    """A track's label: kept mood tags with their summed counts (descending) and its VAD."""

    weighted_mood: dict[str, int]
    valence: float
    arousal: float
    dominance: float

    @property
    def weighted_mood_json(self) -> str:
        return json.dumps(self.weighted_mood, ensure_ascii=False)


class TagDecider(Protocol):
    """A tag filter: ``decide(tag).kept`` says whether the tag may label a track."""

    def decide(self, tag: str) -> Any: ...


def stop_set(stop_list: Iterable[str]) -> frozenset[str]:
    """The stop-list in normal form; refuses a bare string (a YAML list was meant)."""
    if isinstance(stop_list, str):
        raise ParameterError(f"stop_list must be a list of tags, got the string {stop_list!r}")
    return frozenset(normalise_tag(str(word)) for word in stop_list)


def mood_tags(
    tags: Iterable[tuple[str, int]],
    lexicon_words: Mapping[str, object],
    tag_filter: TagDecider,
    aliases: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """``{normalised tag: summed count}`` of the tags that are mood words: kept by
    ``tag_filter``, in the lexicon (after ``aliases``: spelling variant -> lexicon word);
    sorted by descending count, then tag."""
    counts: dict[str, int] = {}
    for name, count in tags:
        tag = normalise_tag(name)
        tag = aliases.get(tag, tag) if aliases else tag
        if tag and tag in lexicon_words and tag_filter.decide(tag).kept:
            counts[tag] = counts.get(tag, 0) + int(count)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def weighted_vad(
    weighted_mood: Mapping[str, int], lexicon: Mapping[str, tuple[float, float, float]]
) -> tuple[float, float, float] | None:
    """Count-weighted mean VAD of ``weighted_mood``; ``None`` when the total count is 0."""
    counts = np.array(list(weighted_mood.values()), dtype=np.float64)
    if counts.size == 0 or counts.sum() <= 0:
        return None
    scores = np.array([lexicon[tag] for tag in weighted_mood], dtype=np.float64)
    v, a, d = (counts @ scores) / counts.sum()
    return float(v), float(a), float(d)


def label_track(
    tags: Iterable[tuple[str, int]],
    lexicon: Mapping[str, tuple[float, float, float]],
    tag_filter: TagDecider,
    aliases: Mapping[str, str] | None = None,
) -> MoodLabel | str:
    """The track's ``MoodLabel``, or the ``DropReason`` when it has none."""
    moods = mood_tags(tags, lexicon, tag_filter, aliases)
    if not moods:
        return DropReason.NO_MOOD_TAGS
    vad = weighted_vad(moods, lexicon)
    if vad is None:
        return DropReason.ZERO_MOOD_WEIGHT
    positive = {tag: count for tag, count in moods.items() if count > 0}
    return MoodLabel(positive, *vad)
