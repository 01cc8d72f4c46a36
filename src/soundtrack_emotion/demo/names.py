"""Invented artist and track names for the demo corpus (any resemblance is accidental)."""

from __future__ import annotations

import numpy as np

_FIRST = (
    "Mara", "Tobin", "Elsa", "Ivo", "Lusia", "Corin", "Anselm", "Nadia", "Rune", "Oriane",
    "Fenna", "Jasper", "Ilka", "Teodor", "Mirelle", "Quentin", "Saskia", "Bram", "Zélie", "Okko",
)  # fmt: skip
_SURNAME_HEADS = (
    "Vel", "Quor", "Astr", "Brae", "Dun", "Hal", "Kest", "Lorn", "Mir", "Ost", "Pell", "Riv",
    "Sand", "Thal", "Varr", "Wyn",
)  # fmt: skip
_SURNAME_TAILS = (
    "amore", "ington", "ovic", "essen", "ard", "ley", "holm", "ström", "ano", "ier", "quist",
)  # fmt: skip
_ENSEMBLE_NOUNS = ("Lantern", "Cobalt", "Meridian", "Glasshouse", "Northwind", "Ember")
_ADJECTIVES = (
    "Last", "Silent", "Broken", "Golden", "Distant", "Crimson", "Hidden", "Endless", "Frozen",
    "Burning", "Quiet", "Falling", "Northern", "Hollow", "Bright", "Restless", "Pale", "Iron",
)  # fmt: skip
_NOUNS = (
    "Light", "Harbor", "Horizon", "Garden", "River", "Kingdom", "Station", "Lantern", "Orchard",
    "Citadel", "Meadow", "Tide", "Engine", "Compass", "Voyage", "Ember", "Valley", "Signal",
)  # fmt: skip


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(0, len(options)))]


def artist_name(rng: np.random.Generator) -> str:
    """A composer ("Mara Velington"), a duo ("Kestholm & Rivano") or an ensemble."""
    kind = rng.random()
    surname = _pick(rng, _SURNAME_HEADS) + _pick(rng, _SURNAME_TAILS)
    if kind < 0.75:
        return f"{_pick(rng, _FIRST)} {surname}"
    if kind < 0.9:
        return f"{surname} & {_pick(rng, _SURNAME_HEADS)}{_pick(rng, _SURNAME_TAILS)}"
    return f"The {_pick(rng, _ENSEMBLE_NOUNS)} Ensemble"


def track_title(rng: np.random.Generator) -> str:
    """A cue title; some carry bracketed or " - " suffixes that Spotify search drops."""
    adj, noun, other = _pick(rng, _ADJECTIVES), _pick(rng, _NOUNS), _pick(rng, _NOUNS)
    pattern = int(rng.integers(0, 6))
    if pattern == 0:
        return f"The {adj} {noun}"
    if pattern == 1:
        return f"{noun} of the {adj} {other}"
    if pattern == 2:
        return f"{adj} {noun}"
    if pattern == 3:
        return f"{noun} Theme ({adj} {other})"
    if pattern == 4:
        return f"{adj} {noun} - Suite No. {int(rng.integers(1, 6))}"
    return f"{noun} and {other}"
