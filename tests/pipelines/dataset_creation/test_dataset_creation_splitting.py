"""Seeded, optionally grouped train/validation/test assignment."""

from __future__ import annotations

from collections import Counter

import pytest

from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.dataset_creation.splitting import assign_splits, split_targets

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
