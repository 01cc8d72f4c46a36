"""Last.fm-style top tags for a demo track, chosen near its latent VAD.

A track's mood tags are a handful of demo-lexicon words around its latent VAD; their counts
are the non-negative weights whose weighted mean VAD comes closest to the latent (so the
thesis's count-weighted label follows the latent closely). Genre tags, words outside the
lexicon and case/spacing variants are mixed in, and counts are rescaled so the top tag is 100,
as Last.fm does.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from soundtrack_emotion.demo.lexicon import MOOD_WORDS

GENRE_TAGS = (
    "film score", "instrumental", "epic", "orchestral", "movie", "score", "ost",
    "original soundtrack", "piano", "classical", "ambient", "rock", "pop", "electronic",
    "indie", "composer", "film", "cover", "intro", "musical",
)  # fmt: skip
OUT_OF_LEXICON_TAGS = (
    "seen live", "favorites", "oscar winner", "2010s", "awesome", "my playlist", "goosebumps",
    "spine tingling", "trailer", "cinematic masterpiece", "amazing", "love it",
)  # fmt: skip
CRAWL_TAG = "soundtrack"
TOP_COUNT = 100
_CANDIDATES = 12
_SUM_TO_ONE_WEIGHT = 10.0

_WORDS = tuple(MOOD_WORDS)
_VAD = np.array([MOOD_WORDS[w] for w in _WORDS], dtype=np.float64)


def _mood_weights(latent: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """Pick 3-7 lexicon words near ``latent`` [3] and the weights (sum 1) that reproduce it."""
    dist = np.linalg.norm(_VAD - latent, axis=1)
    nearest = np.argsort(dist, kind="stable")[:_CANDIDATES]
    prob = np.exp(-dist[nearest] / 0.12)
    k = int(rng.integers(3, 8))
    chosen = rng.choice(nearest, size=k, replace=False, p=prob / prob.sum())
    # min || sum_i w_i (vad_i - latent) ||  s.t. w >= 0, sum w = 1 (as a penalty row)
    a = np.vstack([(_VAD[chosen] - latent).T, np.full(k, _SUM_TO_ONE_WEIGHT)])
    b = np.concatenate([np.zeros(3), [_SUM_TO_ONE_WEIGHT]])
    w, _ = nnls(a, b)
    if w.sum() <= 0:
        w = np.ones(k)
    w = w / w.sum()
    # Voters rarely agree completely: every chosen word keeps at least a small share.
    w = np.maximum(w, 0.03 * w.max())
    return {_WORDS[i]: float(x) for i, x in zip(chosen, w / w.sum(), strict=True)}


def spell_variant(tag: str, rng: np.random.Generator) -> str:
    """The tag as users type it: varied case, stray or doubled spaces, hyphen vs space."""
    if "-" in tag and rng.random() < 0.6:
        tag = tag.replace("-", " ")
    elif " " in tag and rng.random() < 0.3:
        tag = tag.replace(" ", "-")
    roll = rng.random()
    if roll < 0.15:
        tag = tag.title()
    elif roll < 0.2:
        tag = tag.upper()
    elif roll < 0.3:
        tag = f" {tag} " if rng.random() < 0.5 else f"{tag}  "
    elif roll < 0.35 and " " in tag:
        tag = tag.replace(" ", "  ")
    return tag


def _rescaled(tags: dict[str, float]) -> list[tuple[str, int]]:
    """Counts rescaled so the top tag is 100, integers, sorted as Last.fm does (count desc)."""
    top = max(tags.values())
    counts = {name: max(1, round(TOP_COUNT * value / top)) for name, value in tags.items()}
    return sorted(counts.items(), key=lambda item: -item[1])


def top_tags(latent: np.ndarray, rng: np.random.Generator) -> list[tuple[str, int]]:
    """The ``(name, count)`` list of a normal track: mood, genre and out-of-lexicon tags."""
    moods = _mood_weights(latent, rng)
    mood_scale = float(rng.uniform(40.0, 140.0))
    tags: dict[str, float] = {
        spell_variant(word, rng): weight / max(moods.values()) * mood_scale
        for word, weight in moods.items()
    }
    tags[CRAWL_TAG] = float(rng.uniform(60.0, 130.0))
    for genre in rng.choice(GENRE_TAGS, size=int(rng.integers(1, 5)), replace=False):
        tags[spell_variant(str(genre), rng)] = float(rng.uniform(3.0, 90.0))
    for word in rng.choice(OUT_OF_LEXICON_TAGS, size=int(rng.integers(0, 3)), replace=False):
        tags[spell_variant(str(word), rng)] = float(rng.uniform(1.0, 30.0))
    return _rescaled(tags)


def non_mood_tags(rng: np.random.Generator) -> list[tuple[str, int]]:
    """Tags of a track that users only tagged by genre and other non-mood words."""
    tags = {CRAWL_TAG: 100.0}
    for genre in rng.choice(GENRE_TAGS, size=3, replace=False):
        tags[spell_variant(str(genre), rng)] = float(rng.uniform(5.0, 80.0))
    tags[str(rng.choice(OUT_OF_LEXICON_TAGS))] = float(rng.uniform(1.0, 30.0))
    return _rescaled(tags)
