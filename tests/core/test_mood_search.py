"""Mood search on a catalogue with planted moods (``planted_catalogue`` in conftest.py):
known neighbours, words through the labels' lexicon, partial moods, and bad queries."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.mood_search import (
    PROFILE_WEIGHTS,
    PROVENANCE_COLUMNS,
    all_similar_movies,
    movies_for_mood,
    resolve_mood,
    similar_movies,
    tracks_for_mood,
)
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.inference.catalogue import PROFILE_STATS


def test_the_search_core_and_the_notebook_api_import_without_kedro():
    code = (
        "import sys, soundtrack_emotion.core.mood_search, soundtrack_emotion.search; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kedro', 'tensorflow')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_profile_is_made_of_the_catalogue_tables_statistics():
    assert set(PROFILE_WEIGHTS) == set(PROFILE_STATS)


def test_the_nearest_movie_to_a_dark_tense_one_is_the_other_dark_tense_one(planted_catalogue):
    hits = similar_movies(planted_catalogue.catalogue, "dark_tense_1", k=2)
    assert hits["movie_id"].tolist()[0] == "dark_tense_2"
    assert hits["rank"].tolist() == [1, 2]
    assert hits["distance"].is_monotonic_increasing
    assert "dark_tense_1" not in hits["movie_id"].tolist()


def test_every_movie_finds_its_planted_twin(planted_catalogue):
    table = all_similar_movies(planted_catalogue.catalogue, k=1)
    nearest = dict(zip(table["movie_id"], table["similar_id"], strict=True))
    assert nearest["sad_calm_1"] == "sad_calm_2" and nearest["sad_calm_2"] == "sad_calm_1"
    assert nearest["dark_tense_2"] == "dark_tense_1"
    assert planted_catalogue.unscored not in nearest  # nothing to compare it by
    assert planted_catalogue.unscored not in table["similar_id"].tolist()


def test_a_movie_can_be_named_by_its_title(planted_catalogue):
    hits = similar_movies(planted_catalogue.catalogue, "night pursuit", k=1)
    assert hits["movie_id"].tolist() == ["dark_tense_2"]


def test_sad_is_low_valence_through_the_lexicon_and_finds_the_sad_movies_first(
    planted_catalogue,
):
    mood = resolve_mood("Sad", planted_catalogue.lexicon)
    assert mood.target["valence"] < 0.2 and mood.words == ("sad",)
    hits = movies_for_mood(
        planted_catalogue.catalogue, "sad", k=3, lexicon=planted_catalogue.lexicon
    )
    assert set(hits["movie_id"][:2]) == {"sad_calm_1", "sad_calm_2"}


def test_a_phrase_is_the_mean_of_its_words_joined_by_connectives(planted_catalogue):
    lexicon = planted_catalogue.lexicon
    mood = resolve_mood("tense and dark", lexicon)
    assert mood.words == ("tense", "dark")
    expected = (np.array([0.20, 0.85, 0.50]) + np.array([0.20, 0.45, 0.60])) / 2
    np.testing.assert_allclose([mood.target[label] for label in VAD_LABELS], expected)
    # a multi-word entry is one word, whatever its spelling
    assert resolve_mood("Laid-Back, but calm", lexicon).words == ("laid back", "calm")
    hits = movies_for_mood(planted_catalogue.catalogue, mood, k=2)
    assert set(hits["movie_id"]) == {"dark_tense_1", "dark_tense_2"}


def test_values_pin_labels_whatever_the_words_say(planted_catalogue):
    mood = resolve_mood("tense and dark", planted_catalogue.lexicon, values={"arousal": 0.1})
    assert mood.words == ("tense", "dark")
    assert mood.target == pytest.approx({"valence": 0.2, "arousal": 0.1, "dominance": 0.55})
    with pytest.raises(ParameterError, match="arousal must be in"):
        resolve_mood("tense", planted_catalogue.lexicon, values={"arousal": 2})


def test_a_valence_arousal_query_ignores_dominance(planted_catalogue):
    catalogue = planted_catalogue.catalogue
    query = {"valence": 0.2, "arousal": 0.3}
    before = movies_for_mood(catalogue, query, k=10)
    changed = catalogue.assign(dominance_mean=1.0 - catalogue["dominance_mean"])
    after = movies_for_mood(changed, query, k=10)
    assert before["movie_id"].tolist() == after["movie_id"].tolist()
    np.testing.assert_allclose(before["distance"], after["distance"])
    # and the distance is the movie's RMS distance to the mood over valence and arousal only
    first = before.iloc[0]
    expected = np.sqrt(sum((first[f"{label}_mean"] - value) ** 2 + first[f"{label}_std"] ** 2
                           for label, value in query.items()))  # fmt: skip
    assert first["distance"] == pytest.approx(expected)


def test_a_movie_that_averages_to_the_mood_ranks_below_one_that_holds_it(planted_catalogue):
    catalogue = planted_catalogue.catalogue.iloc[:2].copy()
    catalogue[[f"{label}_mean" for label in VAD_LABELS]] = 0.5
    catalogue["valence_std"] = [0.4, 0.05]  # the first swings between extremes
    hits = movies_for_mood(catalogue, {"valence": 0.5}, k=2)
    assert hits["movie_id"].tolist() == ["dark_tense_2", "dark_tense_1"]


def test_tracks_for_a_mood_skip_unreadable_tracks_and_keep_provenance(planted_catalogue):
    hits = tracks_for_mood(planted_catalogue.track_vad, {"valence": 0.9, "arousal": 0.8}, k=100)
    assert hits["track"].iloc[0] == "happy_lively 2"  # planted exactly on the mood
    assert hits["distance"].iloc[0] == pytest.approx(0.0)
    assert "silence" not in hits["track"].tolist()
    assert len(hits) == len(planted_catalogue.track_vad) - 1
    assert set(PROVENANCE_COLUMNS) <= set(hits.columns)


def test_k_larger_than_the_catalogue_returns_every_comparable_movie(planted_catalogue):
    catalogue = planted_catalogue.catalogue
    hits = movies_for_mood(catalogue, {"arousal": 0.5}, k=50)
    assert len(hits) == len(catalogue) - 1  # all but the unscored movie
    assert hits["rank"].tolist() == list(range(1, len(hits) + 1))
    assert len(similar_movies(catalogue, "happy_calm", k=50)) == len(catalogue) - 2
    assert set(PROVENANCE_COLUMNS) <= set(hits.columns)


@pytest.mark.parametrize("k", [0, -1, 2.5, "3", True])
def test_k_must_be_a_whole_number_of_results(planted_catalogue, k):
    with pytest.raises(ParameterError, match="k must be"):
        movies_for_mood(planted_catalogue.catalogue, {"valence": 0.5}, k=k)


def test_an_unknown_movie_is_named_with_near_ids(planted_catalogue):
    with pytest.raises(ParameterError, match=r"no movie 'dark_tense_3'.*dark_tense_1"):
        similar_movies(planted_catalogue.catalogue, "dark_tense_3")


def test_an_unscored_movie_has_no_neighbours(planted_catalogue):
    with pytest.raises(ParameterError, match="no scored track"):
        similar_movies(planted_catalogue.catalogue, planted_catalogue.unscored)


def test_unknown_words_are_named_with_near_lexicon_words(planted_catalogue):
    with pytest.raises(ParameterError) as error:
        resolve_mood("melancolic but calm and zzzq", planted_catalogue.lexicon)
    message = str(error.value)
    assert "'melancolic': did you mean melancholic, melancholy?" in message
    assert "'zzzq': no near word" in message
    assert "'calm'" not in message


@pytest.mark.parametrize(
    ("mood", "problem"),
    [
        ({"valence": 1.5}, "in \\[0, 1\\]"),
        ({"valence": "high"}, "must be a number"),
        ({"energy": 0.5}, "unknown \\['energy'\\]"),
        ({}, "give values"),
        ("and but", "names no mood word"),
    ],
)
def test_bad_moods_say_what_is_wrong(planted_catalogue, mood, problem):
    with pytest.raises(ParameterError, match=problem):
        resolve_mood(mood, planted_catalogue.lexicon)


def test_words_need_a_lexicon():
    with pytest.raises(ParameterError, match="lexicon is needed"):
        resolve_mood("sad")


def test_a_raw_lexicon_is_read_in_the_labels_normal_form():
    raw = pd.DataFrame({"word": ["Feel-Good", "feel good"], "valence": [0.9, 0.1],
                        "arousal": [0.6, 0.1], "dominance": [0.5, 0.1]})  # fmt: skip
    mood = resolve_mood("feel good", raw)
    assert mood.words == ("feel good",) and mood.target["valence"] == 0.9  # first entry wins


def test_profile_weights_are_checked(planted_catalogue):
    with pytest.raises(ParameterError, match="unknown \\['tempo'\\]"):
        similar_movies(planted_catalogue.catalogue, "dark_tense_1", weights={"tempo": 1.0})
    with pytest.raises(ParameterError, match="not all 0"):
        similar_movies(planted_catalogue.catalogue, "dark_tense_1", weights={"mean": 0.0})


def test_weights_choose_what_similar_means(planted_catalogue):
    catalogue = planted_catalogue.catalogue.copy()
    # a movie with sad_calm_1's mood but the dark tense movies' spread and trend
    twin = catalogue[catalogue["movie_id"] == "sad_calm_1"].assign(
        movie_id="sad_but_spread", title="Spread",
        **{f"{label}_{stat}": catalogue.loc[0, f"{label}_{stat}"] * 3
           for label in VAD_LABELS for stat in ("std", "trend_per_hour")},
    )  # fmt: skip
    catalogue = pd.concat([catalogue, twin], ignore_index=True)
    by_mean = similar_movies(catalogue, "sad_calm_1", k=1, weights={"mean": 1.0})
    assert by_mean["movie_id"].tolist() == ["sad_but_spread"]
    by_shape = similar_movies(
        catalogue, "sad_calm_1", k=1, weights={"std": 1.0, "trend_per_hour": 1.0}
    )
    assert by_shape["movie_id"].tolist() != ["sad_but_spread"]
