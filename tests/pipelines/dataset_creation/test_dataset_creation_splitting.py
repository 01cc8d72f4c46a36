"""Seeded, optionally grouped train/validation/test assignment."""

from __future__ import annotations

from collections import Counter

import pytest

from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.dataset_creation.splitting import (
    assign_splits,
    credited_artists,
    groups_spanning_splits,
    split_groups,
    split_targets,
)

FRACTIONS = {"validation_fraction": 0.17, "test_fraction": 0.24}


def test_ungrouped_counts_are_exact():
    splits = assign_splits([f"t{i}" for i in range(100)], seed=1, **FRACTIONS)
    assert Counter(splits) == {"train": 59, "validation": 17, "test": 24}


def test_groups_never_span_two_splits_and_fractions_are_close():
    groups = [f"artist{i // 5}" for i in range(200)]  # 40 artists x 5 tracks
    splits = assign_splits(groups, seed=3, **FRACTIONS)
    by_group: dict[str, set[str]] = {}
    for group, split in zip(groups, splits, strict=True):
        by_group.setdefault(group, set()).add(split)
    assert all(len(s) == 1 for s in by_group.values())
    counts = Counter(splits)
    assert abs(counts["test"] - 48) <= 5 and abs(counts["validation"] - 34) <= 5


def test_same_seed_same_assignment_whatever_the_input_order():
    items = [f"a{i % 13}" for i in range(60)]
    first = dict(zip(items, assign_splits(items, seed=9, **FRACTIONS), strict=True))
    reversed_items = items[::-1]
    second = dict(
        zip(reversed_items, assign_splits(reversed_items, seed=9, **FRACTIONS), strict=True)
    )
    assert first == second
    other = dict(zip(items, assign_splits(items, seed=10, **FRACTIONS), strict=True))
    assert other != first


@pytest.mark.parametrize(
    ("validation", "test", "match"),
    [(-0.1, 0.2, "validation_fraction"), (0.2, 1.0, "test_fraction"), (0.5, 0.5, "room")],
)
def test_bad_fractions_raise(validation, test, match):
    with pytest.raises(ParameterError, match=match):
        split_targets(10, validation_fraction=validation, test_fraction=test)


@pytest.mark.parametrize(
    ("credit", "artists"),
    [
        ("Hans Zimmer & Lisa Gerrard", ["hans zimmer", "lisa gerrard"]),
        ("Mark Ronson ft. Bruno Mars", ["mark ronson", "bruno mars"]),
        ("Skrillex x Diplo", ["skrillex", "diplo"]),
        ("A. R. Rahman, Hans Zimmer", ["a r rahman", "hans zimmer"]),
        ("Hans Zimmer and Lisa Gerrard", ["hans zimmer", "lisa gerrard"]),
        ("Simon and Garfunkel", ["simon and garfunkel"]),
        ("Florence and the Machine", ["florence and the machine"]),
        ("Malcolm X", ["malcolm x"]),
        ("AC/DC", ["ac dc"]),
    ],
)
def test_credits_split_into_artists_where_safe(credit, artists):
    assert credited_artists(credit) == artists


def test_artist_groups_join_credits_that_share_an_artist():
    credits = ["Lisa Gerrard", "Hans Zimmer & Lisa Gerrard", "Hans Zimmer", "Other", "Third"]
    spotify = ["", "", "", "id1", "id1"]
    groups = split_groups(list("abcde"), credits, spotify, group_by="artists")
    assert groups[0] == groups[1] == groups[2] and groups[3] == groups[4] != groups[0]
    assert split_groups(list("abc"), credits[:3], spotify[:3], group_by="primary_artist") == [
        "lisa gerrard",
        "hans zimmer",
        "hans zimmer",
    ]
    assert groups_spanning_splits(["g", "g", "h"], ["train", "test", "test"]) == ["g"]
    with pytest.raises(ParameterError, match="group_by"):
        split_groups(["a"], ["x"], [""], group_by="label")
