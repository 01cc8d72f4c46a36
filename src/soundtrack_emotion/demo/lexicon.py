"""The demo VAD lexicon: the project's own values, written in NRC-VAD v1's file format.

The real NRC-VAD lexicon may not be redistributed, so the demo ships its own small lexicon.
Its values are invented for the demo (they only need to be plausible and to cover the VAD
cube, corners included, so tag-derived labels can follow the latent VAD of a track); they are
not NRC's values. Like the real lexicon, it also scores words that name no feeling: genres
(rock, folk, hip hop), instruments and voices, places, liking tags (awesome, cool, love), which
is why dataset_creation needs its tag filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# word: (valence, arousal, dominance), each in [0, 1]. Multi-word entries use a hyphen, so
# tags such as "Feel Good" or "laid  back" exercise the tag normalisation.
MOOD_WORDS: dict[str, tuple[float, float, float]] = {
    # negative valence, calm or submissive
    "depressed": (0.08, 0.22, 0.15),
    "hopeless": (0.06, 0.25, 0.12),
    "lonely": (0.12, 0.20, 0.18),
    "helpless": (0.08, 0.45, 0.05),
    "gloomy": (0.15, 0.28, 0.30),
    "melancholy": (0.25, 0.22, 0.28),
    "melancholic": (0.24, 0.26, 0.32),
    "mournful": (0.12, 0.30, 0.22),
    "sorrowful": (0.10, 0.33, 0.20),
    "sad": (0.14, 0.30, 0.20),
    "weary": (0.25, 0.12, 0.18),
    "numb": (0.30, 0.08, 0.30),
    "empty": (0.18, 0.10, 0.22),
    "fragile": (0.35, 0.30, 0.08),
    "haunting": (0.30, 0.55, 0.40),
    "eerie": (0.20, 0.55, 0.30),
    # negative valence, calm and in control
    "bleak": (0.15, 0.18, 0.45),
    "cold": (0.28, 0.20, 0.55),
    "icy": (0.20, 0.15, 0.75),
    "austere": (0.30, 0.12, 0.78),
    "stoic": (0.40, 0.15, 0.80),
    "grim": (0.12, 0.38, 0.62),
    "brooding": (0.22, 0.30, 0.66),
    "disdainful": (0.15, 0.40, 0.78),
    "imperious": (0.30, 0.35, 0.92),
    # negative valence, aroused and in control
    "dark": (0.22, 0.45, 0.58),
    "ominous": (0.15, 0.55, 0.70),
    "sinister": (0.10, 0.62, 0.74),
    "menacing": (0.10, 0.72, 0.85),
    "angry": (0.08, 0.88, 0.78),
    "aggressive": (0.12, 0.92, 0.88),
    "furious": (0.06, 0.95, 0.80),
    "hostile": (0.10, 0.82, 0.90),
    "violent": (0.05, 0.95, 0.85),
    "brutal": (0.08, 0.90, 0.94),
    "ruthless": (0.12, 0.70, 0.95),
    # negative valence, aroused and submissive
    "scared": (0.08, 0.85, 0.12),
    "terrified": (0.05, 0.95, 0.10),
    "panic": (0.06, 0.97, 0.16),
    "desperate": (0.10, 0.78, 0.14),
    "anxious": (0.18, 0.80, 0.22),
    "nervous": (0.25, 0.75, 0.25),
    "creepy": (0.15, 0.62, 0.38),
    "tense": (0.22, 0.78, 0.45),
    "frantic": (0.20, 0.92, 0.40),
    # middle valence
    "nostalgic": (0.55, 0.30, 0.40),
    "bittersweet": (0.50, 0.40, 0.35),
    "wistful": (0.45, 0.25, 0.30),
    "mysterious": (0.50, 0.55, 0.55),
    "solemn": (0.40, 0.20, 0.62),
    "dramatic": (0.45, 0.80, 0.70),
    "intense": (0.40, 0.90, 0.72),
    "suspense": (0.35, 0.85, 0.50),
    "restless": (0.38, 0.82, 0.35),
    "stern": (0.35, 0.40, 0.88),
    "defiant": (0.40, 0.78, 0.92),
    "urgent": (0.40, 0.88, 0.58),
    "reflective": (0.58, 0.15, 0.50),
    "pensive": (0.48, 0.20, 0.42),
    "shy": (0.55, 0.30, 0.12),
    "timid": (0.48, 0.35, 0.10),
    "humble": (0.62, 0.22, 0.18),
    # positive valence, aroused
    "happy": (0.95, 0.72, 0.70),
    "joyful": (0.95, 0.80, 0.62),
    "cheerful": (0.92, 0.75, 0.55),
    "playful": (0.88, 0.82, 0.32),
    "carefree": (0.90, 0.62, 0.28),
    "giddy": (0.85, 0.90, 0.30),
    "silly": (0.80, 0.78, 0.18),
    "excited": (0.88, 0.95, 0.60),
    "euphoric": (0.95, 0.97, 0.70),
    "energetic": (0.82, 0.96, 0.78),
    "fun": (0.90, 0.78, 0.60),
    "uplifting": (0.92, 0.72, 0.75),
    "inspiring": (0.90, 0.70, 0.80),
    "triumphant": (0.92, 0.86, 0.95),
    "heroic": (0.90, 0.82, 0.96),
    "victorious": (0.94, 0.84, 0.93),
    "powerful": (0.78, 0.80, 0.97),
    "epic": (0.70, 0.80, 0.85),
    # positive valence, in control
    "majestic": (0.85, 0.55, 0.92),
    "proud": (0.84, 0.58, 0.88),
    "confident": (0.86, 0.55, 0.90),
    "grand": (0.80, 0.60, 0.85),
    "noble": (0.82, 0.40, 0.82),
    "dignified": (0.76, 0.25, 0.86),
    "assured": (0.85, 0.30, 0.88),
    "composed": (0.80, 0.10, 0.80),
    "hopeful": (0.85, 0.50, 0.55),
    "warm": (0.88, 0.30, 0.55),
    # positive valence, calm
    "serene": (0.90, 0.10, 0.60),
    "calm": (0.85, 0.08, 0.52),
    "peaceful": (0.92, 0.06, 0.55),
    "tranquil": (0.90, 0.05, 0.48),
    "relaxing": (0.88, 0.10, 0.40),
    "chill": (0.80, 0.10, 0.42),
    "mellow": (0.75, 0.12, 0.35),
    "laid-back": (0.80, 0.12, 0.48),
    "feel-good": (0.90, 0.65, 0.55),
    "gentle": (0.88, 0.15, 0.25),
    "tender": (0.86, 0.22, 0.18),
    "soft": (0.78, 0.12, 0.20),
    "dreamy": (0.80, 0.18, 0.15),
    "innocent": (0.82, 0.25, 0.08),
    "sweet": (0.90, 0.35, 0.32),
    "romantic": (0.90, 0.55, 0.42),
    "loving": (0.94, 0.45, 0.50),
    "beautiful": (0.93, 0.45, 0.50),
}

# Words that name no feeling but that a lexicon scores too (so a tag filter must drop them).
NON_MOOD_WORDS: dict[str, tuple[float, float, float]] = {
    "folk": (0.62, 0.35, 0.45),
    "jazz": (0.70, 0.55, 0.55),
    "blues": (0.35, 0.40, 0.40),
    "soul": (0.75, 0.45, 0.55),
    "metal": (0.40, 0.85, 0.80),
    "alternative": (0.55, 0.50, 0.50),
    "hip-hop": (0.60, 0.75, 0.65),
    "new age": (0.70, 0.20, 0.40),
    "industrial": (0.35, 0.60, 0.65),
    "guitar": (0.70, 0.50, 0.50),
    "violin": (0.68, 0.40, 0.45),
    "strings": (0.60, 0.40, 0.50),
    "female": (0.65, 0.45, 0.40),
    "vocal": (0.62, 0.50, 0.50),
    "acoustic": (0.68, 0.30, 0.45),
    "german": (0.50, 0.40, 0.55),
    "polish": (0.55, 0.35, 0.50),
    "japan": (0.62, 0.45, 0.50),
    "british": (0.58, 0.40, 0.55),
    "awesome": (0.95, 0.80, 0.75),
    "amazing": (0.95, 0.82, 0.72),
    "love": (0.98, 0.60, 0.60),
    "great": (0.92, 0.55, 0.80),
    "perfect": (0.95, 0.45, 0.85),
    "masterpiece": (0.92, 0.60, 0.85),
    "favorite": (0.90, 0.50, 0.60),
    "live": (0.70, 0.65, 0.60),
    "lyrics": (0.60, 0.40, 0.50),
    "cool": (0.78, 0.48, 0.70),
    "nice": (0.88, 0.35, 0.45),
    "soundtrack": (0.60, 0.45, 0.55),
    "movie": (0.60, 0.45, 0.50),
    "film": (0.58, 0.40, 0.52),
    "score": (0.55, 0.50, 0.60),
    "rock": (0.50, 0.75, 0.70),
    "pop": (0.65, 0.60, 0.50),
    "country": (0.62, 0.35, 0.48),
    "electronic": (0.55, 0.65, 0.55),
    "indie": (0.55, 0.40, 0.45),
    "cover": (0.45, 0.30, 0.40),
    "intro": (0.50, 0.40, 0.45),
    "musical": (0.72, 0.55, 0.55),
    "composer": (0.60, 0.35, 0.70),
    "instrumental": (0.55, 0.30, 0.50),
    "orchestral": (0.60, 0.50, 0.70),
    "classical": (0.62, 0.30, 0.62),
    "piano": (0.65, 0.25, 0.45),
    "ambient": (0.60, 0.10, 0.40),
    "study": (0.60, 0.32, 0.52),
}

NRC_V1_HEADER = ("Word", "Valence", "Arousal", "Dominance")


def demo_lexicon_lines() -> Iterable[str]:
    """The demo lexicon as NRC-VAD v1 lines (header first, words sorted, 3 decimals)."""
    yield "\t".join(NRC_V1_HEADER)
    entries = {**MOOD_WORDS, **NON_MOOD_WORDS}
    for word in sorted(entries):
        v, a, d = entries[word]
        yield f"{word}\t{v:.3f}\t{a:.3f}\t{d:.3f}"


def write_demo_lexicon(path: Path) -> None:
    """Write the demo lexicon to ``path`` in NRC-VAD v1's tab-separated format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(demo_lexicon_lines()) + "\n", encoding="utf-8")
