"""Seeded song-level train/validation/test assignment, optionally grouped (e.g. by artist)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.vad import SPLITS


def split_targets(n: int, *, validation_fraction: float, test_fraction: float) -> dict[str, int]:
    """Number of items each split should get (rounded; train takes the rest)."""
    for name, value in (
        ("validation_fraction", validation_fraction),
        ("test_fraction", test_fraction),
    ):
        if not 0.0 <= value < 1.0:
            raise ParameterError(f"{name} must be in [0, 1), got {value!r}")
    if validation_fraction + test_fraction >= 1.0:
        raise ParameterError(
            "validation_fraction + test_fraction must leave room for training, got "
            f"{validation_fraction!r} + {test_fraction!r}"
        )
    n_test = round(n * test_fraction)
    n_validation = round(n * validation_fraction)
    return {"train": n - n_test - n_validation, "validation": n_validation, "test": n_test}


def assign_splits(
    groups: Sequence[str],
    *,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
) -> list[str]:
    """The split of each item, given its group key (items of one group share a split).

    Groups are visited in a seeded random order (independent of the input order) and each
    goes to the split furthest below its target count, so the fractions are met as closely
    as the group sizes allow. With one item per group the counts are exact.
    """
    targets = split_targets(
        len(groups), validation_fraction=validation_fraction, test_fraction=test_fraction
    )
    sizes: dict[str, int] = {}
    for key in groups:
        sizes[key] = sizes.get(key, 0) + 1
    keys = sorted(sizes)
    order = np.random.default_rng(seed).permutation(len(keys))
    filled = dict.fromkeys(SPLITS, 0)
    chosen: dict[str, str] = {}
    preference = ("test", "validation", "train")  # tie-break: fill the held-out sets first
    for i in order:
        key = keys[int(i)]
        split = max(preference, key=lambda s: targets[s] - filled[s])
        chosen[key] = split
        filled[split] += sizes[key]
    return [chosen[key] for key in groups]
