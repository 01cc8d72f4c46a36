"""The affect tag filter on a hand-labelled set of real-world Last.fm tags, and its rules."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.dataset_creation.tag_filter import (
    AffectFilter,
    compact,
    lexicon_aliases,
    make_tag_filter,
    variant_key,
)
from soundtrack_emotion.pipelines.dataset_creation.tag_vocabulary import (
    AFFECT_WORDS,
    NON_AFFECT_WORDS,
    TagClass,
)

# Several hundred tag strings as they occur on Last.fm, labelled by hand (affect: names a
# mood, emotion or feeling), with weights in the proportions of Last.fm's tagging counts.
# The documented borderline words (love, cool, chill, beautiful, epic, ...) are left out:
# they are a decision, not something to measure.
FIXTURE = Path(__file__).with_name("fixtures") / "hand_labelled_tags.csv"


def _rows() -> list[tuple[str, bool, float]]:
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        return [
            (r["tag"], r["label"] == "affect", float(r["weight"])) for r in csv.DictReader(handle)
        ]


def _vocabulary_keys() -> set[str]:
    words = [*AFFECT_WORDS, *(w for ws in NON_AFFECT_WORDS.values() for w in ws)]
    return {compact(variant_key(w)) for w in words}


def _figures(rows: list[tuple[str, bool, float]]) -> tuple[float, float]:
    """(share of non-affect weight removed, share of affect weight kept)."""
    decide = AffectFilter().decide
    other = sum(w for _, affect, w in rows if not affect)
    affect = sum(w for _, is_affect, w in rows if is_affect)
    removed = sum(w for tag, is_affect, w in rows if not is_affect and not decide(tag).kept)
    kept = sum(w for tag, is_affect, w in rows if is_affect and decide(tag).kept)
    return removed / other, kept / affect


def test_hand_labelled_set_is_large_and_not_the_vocabulary():
    rows = _rows()
    assert len(rows) >= 500 and len({t for t, _, _ in rows}) == len(rows)
    assert sum(a for _, a, _ in rows) >= 150 and sum(not a for _, a, _ in rows) >= 300
    novel = [r for r in rows if compact(variant_key(r[0])) not in _vocabulary_keys()]
    assert len(novel) >= 100  # compounds and variants the lists do not spell out


def test_affect_filter_removes_95_percent_of_non_affect_and_keeps_95_percent_of_affect():
    removed, kept = _figures(_rows())
    print(f"hand-labelled set: non-affect weight removed {removed:.1%}, affect kept {kept:.1%}")
    assert removed >= 0.95
    assert kept >= 0.95


def test_on_tags_outside_the_vocabulary_lists_the_rules_still_generalise():
    novel = [r for r in _rows() if compact(variant_key(r[0])) not in _vocabulary_keys()]
    removed, kept = _figures(novel)
    print(f"tags not in the lists: non-affect removed {removed:.1%}, affect kept {kept:.1%}")
    assert removed >= 0.95 and kept >= 0.85


@pytest.mark.parametrize("variant", ["Hip-Hop", "hip hop", "hiphop", "HIP  HOP", "hip_hop"])
def test_spelling_variants_get_one_decision(variant):
    decision = AffectFilter().decide(variant)
    assert (decision.kept, decision.tag_class) == (False, TagClass.GENRE)


@pytest.mark.parametrize(
    ("tag", "tag_class"),
    [
        ("melodic death metal", TagClass.GENRE),
        ("post-rock", TagClass.GENRE),
        ("psychfolk", TagClass.GENRE),
        ("female vocalists", TagClass.INSTRUMENT_VOICE),
        ("swedish", TagClass.PLACE_LANGUAGE),
        ("1987", TagClass.ERA),
        ("90's", TagClass.ERA),
        ("under 2000 listeners", TagClass.LIKING_META),
        ("seen live", TagClass.LIKING_META),
        ("10/10", TagClass.LIKING_META),
        ("soundtrack", TagClass.MEDIA),
        ("road trip", TagClass.SITUATION),
        ("Hans Zimmer", TagClass.UNLISTED),
        ("", TagClass.UNLISTED),
    ],
)
def test_each_dropped_tag_gets_its_class(tag, tag_class):
    decision = AffectFilter().decide(tag)
    assert not decision.kept
    assert decision.tag_class == tag_class and decision.rule


@pytest.mark.parametrize(
    "tag", ["sad", "Melancholic", "sad songs", "dark & moody", "makes me cry", "saddest", "chill"]
)
def test_affect_tags_are_kept(tag):
    assert AffectFilter().decide(tag).kept


def test_vocabulary_classes_do_not_overlap():
    affect = {compact(variant_key(w)) for w in AFFECT_WORDS}
    seen: dict[str, str] = {}
    for tag_class, words in NON_AFFECT_WORDS.items():
        for key in {compact(variant_key(w)) for w in words}:
            assert key not in affect, (key, tag_class)
            assert seen.setdefault(key, tag_class) == tag_class, (key, tag_class, seen[key])


def test_user_words_extend_the_vocabulary_and_the_version():
    plain, extended = AffectFilter(), AffectFilter(["otherworldly"])
    assert not plain.decide("otherworldly").kept
    assert extended.decide("Otherworldly").kept
    assert extended.version != plain.version
    with pytest.raises(ParameterError, match="list of words"):
        AffectFilter("otherworldly")


def test_lexicon_aliases_fold_variants_onto_lexicon_entries():
    aliases = lexicon_aliases(["feelgood", "feel good", "sad"], {"feel good": 1, "sad": 2})
    assert aliases == {"feelgood": "feel good"}


def test_unknown_filter_name_is_refused():
    with pytest.raises(ParameterError, match="tag_filter"):
        make_tag_filter("wordnet", frozenset())
