"""The thesis's labelling rule, tag normalisation and the stop-list."""

from __future__ import annotations

import json

import pytest

from soundtrack_emotion.core.labelling import (
    DropReason,
    MoodLabel,
    label_track,
    mood_tags,
    normalise_tag,
    stop_set,
    weighted_vad,
)
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.dataset_creation.tag_filter import StopListFilter

# The thesis's worked example (Simple as This, Jake Bugg; thesis figure 3.3 and the authors'
# summary): tags cool 56, nice 12, study 12 give V 0.85695, A 0.49845, D 0.7594. The summary's
# table prints the 3x3 word scores transposed; read column-wise they reproduce those totals
# (read as printed they would give 0.818 / 0.815 / 0.626).
THESIS_WORDS = {
    "cool": (0.885, 0.540, 0.781),
    "nice": (0.930, 0.442, 0.650),
    "study": (0.653, 0.361, 0.768),
}
# Small hand-made lexicon for the other cases (values chosen for easy arithmetic).
LEXICON = {
    "sad": (0.2, 0.4, 0.1),
    "happy": (1.0, 0.8, 0.7),
    "rock": (0.5, 0.9, 0.9),
    "feel good": (0.9, 0.6, 0.5),
}
NO_STOP = StopListFilter(frozenset())


def test_thesis_worked_example():
    label = label_track([("cool", 56), ("nice", 12), ("study", 12)], THESIS_WORDS, NO_STOP)
    assert isinstance(label, MoodLabel)
    assert label.weighted_mood == {"cool": 56, "nice": 12, "study": 12}
    assert label.valence == pytest.approx(0.85695, abs=1e-9)
    assert label.arousal == pytest.approx(0.49845, abs=1e-9)
    assert label.dominance == pytest.approx(0.7594, abs=1e-9)
    assert json.loads(label.weighted_mood_json) == {"cool": 56, "nice": 12, "study": 12}


def test_two_tags_by_hand():
    # V = (0.2*10 + 1.0*30) / 40 = 0.8; A = (4 + 24) / 40 = 0.7; D = (1 + 21) / 40 = 0.55
    assert weighted_vad({"sad": 10, "happy": 30}, LEXICON) == pytest.approx((0.8, 0.7, 0.55))


def test_a_single_tag_gives_its_own_scores():
    label = label_track([("Sad", 7)], LEXICON, NO_STOP)
    assert (label.valence, label.arousal, label.dominance) == pytest.approx(LEXICON["sad"])


def test_stop_list_removes_genre_tags_from_the_label():
    tags = [("Soundtrack", 100), ("rock", 50), (" happy ", 30), ("Sad", 10), ("oscar", 5)]
    with_rock = label_track(tags, LEXICON, NO_STOP)
    # (0.2*10 + 1.0*30 + 0.5*50) / 90 = 57 / 90
    assert with_rock.valence == pytest.approx(57 / 90)
    assert with_rock.weighted_mood == {"rock": 50, "happy": 30, "sad": 10}
    without = label_track(tags, LEXICON, StopListFilter(stop_set(["soundtrack", "ROCK "])))
    assert without.weighted_mood == {"happy": 30, "sad": 10}
    assert without.valence == pytest.approx(0.8)


def test_spelling_variants_of_one_tag_add_up():
    tags = [("Feel-Good", 20), ("feel  good", 20), ("sad", 40)]
    label = label_track(tags, LEXICON, NO_STOP)
    assert label.weighted_mood == {"feel good": 40, "sad": 40}
    # (0.9*40 + 0.2*40) / 80
    assert label.valence == pytest.approx(0.55)


def test_no_lexicon_tag_is_no_mood_tags():
    tags = [("soundtrack", 100), ("seen live", 3)]
    assert label_track(tags, LEXICON, NO_STOP) == DropReason.NO_MOOD_TAGS
    assert (
        label_track([("rock", 9)], LEXICON, StopListFilter(stop_set(["rock"])))
        == DropReason.NO_MOOD_TAGS
    )
    assert label_track([], LEXICON, NO_STOP) == DropReason.NO_MOOD_TAGS


def test_all_zero_counts_is_zero_weight():
    assert label_track([("sad", 0), ("happy", 0)], LEXICON, NO_STOP) == DropReason.ZERO_MOOD_WEIGHT


def test_zero_count_tags_are_not_kept_when_others_count():
    label = label_track([("sad", 0), ("happy", 5)], LEXICON, NO_STOP)
    assert label.weighted_mood == {"happy": 5}
    assert label.valence == pytest.approx(1.0)


def test_mood_tags_sorted_by_count_then_name():
    tags = [("sad", 5), ("happy", 5), ("rock", 9)]
    assert list(mood_tags(tags, LEXICON, NO_STOP)) == ["rock", "happy", "sad"]


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  Feel-Good   MUSIC ", "feel good music"),
        ("LAID_back", "laid back"),
        ("sad\t", "sad"),
        ("Rock\u2013n\u2013Roll", "rock n roll"),
        ("\uff23\uff21\uff2c\uff2d", "calm"),  # full-width letters (NFKC)
        ("Straße", "strasse"),  # case folding, not just lower()
        ("   ", ""),
    ],
)
def test_normalise_tag(raw, normal):
    assert normalise_tag(raw) == normal


def test_stop_set_normalises_and_refuses_a_bare_string():
    assert stop_set(["Film-Score", " ROCK"]) == {"film score", "rock"}
    with pytest.raises(ParameterError, match="list of tags"):
        stop_set("soundtrack")
