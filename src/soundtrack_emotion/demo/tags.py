"""Last.fm-style top tags for a demo track, chosen near its latent VAD, as messy as real ones.

A track's mood tags are a handful of demo-lexicon words around its latent VAD; their counts
are the non-negative weights whose weighted mean VAD comes closest to the latent (so a label
from the mood tags alone follows the latent closely). Like real tags, about a third of the
weight goes to tags that name no feeling: the crawl tag, genres, instruments and voices,
places and languages, years and decades, liking and meta tags ("seen live", "favorites",
"awesome"), in case and spelling variants ("Hip-Hop", "hip hop", "hiphop"). Many of them are
scored by the demo lexicon, as NRC-VAD scores "folk" or "awesome", so only a tag filter keeps
them out of the label. Counts are rescaled so the top tag is 100, as Last.fm does.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from soundtrack_emotion.demo.lexicon import MOOD_WORDS

# Non-affect tags by kind, spelt as users spell them (variants are separate entries).
NON_AFFECT_TAGS: dict[str, tuple[str, ...]] = {
    "genre": (
        "film score", "instrumental", "epic orchestral", "orchestral", "movie", "score", "ost",
        "original soundtrack", "classical", "ambient", "rock", "pop", "electronic", "indie",
        "Hip-Hop", "hip hop", "hiphop", "post-rock", "Post Rock", "folk", "jazz", "blues",
        "soul", "metal", "alternative", "new age", "neoclassical", "dark ambient", "trip-hop",
        "chillout", "electronica", "industrial", "Progressive Rock", "singer-songwriter",
    ),
    "instrument_voice": (
        "piano", "guitar", "violin", "strings", "cello", "female vocalists", "Female Vocalist",
        "male vocals", "choir", "acoustic", "vocal", "female",
    ),
    "place_language": (
        "german", "polish", "japan", "Japanese", "british", "UK", "french", "swedish",
        "american", "icelandic",
    ),
    "era": ("2010s", "90s", "00s", "1990s", "2014", "2008", "80's"),
    "liking_meta": (
        "seen live", "favorites", "Favourites", "favorite", "awesome", "amazing", "love",
        "loved", "great", "perfect", "masterpiece", "cool", "nice", "download", "lyrics",
        "my playlist", "under 2000 listeners", "oscar winner", "trailer", "10 of 10 stars",
        "composer", "film", "cover", "intro", "musical", "cinematic masterpiece", "live",
    ),
}  # fmt: skip
# Tags that do name a feeling but that the lexicon does not score.
OUT_OF_LEXICON_MOODS = ("goosebumps", "spine tingling", "so sad", "heartwarming")
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


def _non_affect_tags(rng: np.random.Generator, n: int) -> dict[str, float]:
    """The crawl tag and ``n`` other non-affect tags of random kinds, with raw weights."""
    kinds = tuple(NON_AFFECT_TAGS)
    tags = {CRAWL_TAG: float(rng.uniform(0.6, 1.3))}
    for _ in range(n):
        pool = NON_AFFECT_TAGS[kinds[int(rng.integers(0, len(kinds)))]]
        tag = spell_variant(str(pool[int(rng.integers(0, len(pool)))]), rng)
        tags[tag] = tags.get(tag, 0.0) + float(rng.pareto(1.5) + 0.05)
    return tags


def top_tags(latent: np.ndarray, rng: np.random.Generator) -> list[tuple[str, int]]:
    """The ``(name, count)`` list of a normal track: mood tags, non-affect tags carrying
    25-50 % of the weight, and now and then a mood tag the lexicon lacks."""
    moods = _mood_weights(latent, rng)
    mood_scale = float(rng.uniform(40.0, 140.0))
    tags: dict[str, float] = {
        spell_variant(word, rng): weight / max(moods.values()) * mood_scale
        for word, weight in moods.items()
    }
    mood_total = sum(tags.values())
    others = _non_affect_tags(rng, int(rng.integers(3, 9)))
    share = float(rng.uniform(0.25, 0.5))
    scale = share / (1.0 - share) * mood_total / sum(others.values())
    for name, weight in others.items():
        tags[name] = tags.get(name, 0.0) + weight * scale
    for word in rng.choice(OUT_OF_LEXICON_MOODS, size=int(rng.integers(0, 2)), replace=False):
        tags[spell_variant(str(word), rng)] = float(rng.uniform(1.0, 15.0))
    return _rescaled(tags)


def non_mood_tags(rng: np.random.Generator) -> list[tuple[str, int]]:
    """Tags of a track that users only tagged with words that name no feeling."""
    return _rescaled(_non_affect_tags(rng, 5))
