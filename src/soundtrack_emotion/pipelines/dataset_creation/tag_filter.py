"""Which tags may label a track: the thesis's stop-list, or the affect filter (the default).

Both filters answer one ``TagDecision`` per tag: kept or not, the tag's class and the rule
that decided, so every dropped tag can be explained. The affect filter keeps a tag only when
it names a mood, emotion or feeling, deciding in this order (``tag_vocabulary`` holds the
lists; all comparisons are on the variant-folded ``variant_key``):

1. the whole tag is an affect word or phrase (``AFFECT_WORDS`` or the user's word list);
2. the whole tag is a listed non-affect tag (``NON_AFFECT_WORDS``: genre, instrument, ...);
3. it is a year or a decade ("1987", "90's", "1960s"), or only numbers ("10/10");
4. every word is an affect word, an inflection of one ("saddest", "gloominess"), or filler
   ("sad songs", "dark and moody", "makes me cry");
5. a word makes it a genre compound ("post-rock", "sadcore") or belongs to a non-affect class
   ("melodic death metal", "swedish indie", "under 2000 listeners");
6. otherwise it names no feeling the vocabulary knows (artist names, titles, ...): dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from soundtrack_emotion.core.labelling import normalise_tag
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.dataset_creation.tag_vocabulary import (
    AFFECT_WORDS,
    FEELING_VERBS,
    FILLER_WORDS,
    GENRE_PREFIXES,
    GENRE_SUFFIXES,
    NON_AFFECT_TOKENS,
    NON_AFFECT_WORDS,
    VOCABULARY_VERSION,
    TagClass,
)

TAG_FILTERS = ("affect", "stop_list")
_AND = re.compile(r"\s*&\s*|(?<=\w)\s*'?\bn\b'?\s*(?=\w)|'n'")
_WORD = re.compile(r"\w+")
_DECADE = re.compile(r"^(1[5-9]|20)?\d0s$")
_YEAR = re.compile(r"^(1[5-9]|20)\d\d$")
_INFLECTIONS = ("ness", "est", "er", "ly", "s")
_MAX_PHRASE = 3


def variant_key(tag: str) -> tuple[str, ...]:
    """The words of a tag with spelling variants folded: ``normalise_tag``, "&" / "n" / "'n'"
    as "and", punctuation dropped.

    >>> variant_key("Rock'n'Roll"), variant_key("Drum & Bass")
    (('rock', 'and', 'roll'), ('drum', 'and', 'bass'))
    """
    return tuple(_WORD.findall(_AND.sub(" and ", normalise_tag(tag)).replace("_", " ")))


def compact(words: Iterable[str]) -> str:
    """Words joined without spaces: "hip hop", "hip-hop" and "hiphop" are all "hiphop"."""
    return "".join(words)


@dataclass(frozen=True)
class TagDecision:
    """Whether a tag may label a track, its class and the rule that decided."""

    kept: bool
    tag_class: str
    rule: str


class StopListFilter:
    """The thesis's rule: every tag is kept unless it is on the stop-list."""

    name = "stop_list"
    version = "thesis"

    def __init__(self, stop_words: frozenset[str]) -> None:
        self._stop_words = stop_words

    def decide(self, tag: str) -> TagDecision:
        if normalise_tag(tag) in self._stop_words:
            return TagDecision(False, TagClass.STOP_LIST, "stop-list")
        return TagDecision(True, TagClass.NOT_STOP_LISTED, "not stop-listed")


class AffectFilter:
    """Keep a tag only when it names an affect; see the module docstring for the rules.

    ``extra_affect_words``: more affect words and phrases (e.g. a user's WordNet-Affect or NRC
    EmoLex list), added to the project's vocabulary.
    """

    name = "affect"

    def __init__(self, extra_affect_words: Iterable[str] = ()) -> None:
        extra = tuple(extra_affect_words)
        if isinstance(extra_affect_words, str):
            raise ParameterError("extra_affect_words must be a list of words, not a string")
        self.version = VOCABULARY_VERSION + (f"+{len(extra)} user words" if extra else "")
        self._affect = {compact(variant_key(w)) for w in (*AFFECT_WORDS, *extra)} - {""}
        self._whole: dict[str, str] = {}
        for tag_class in TagClass.NON_AFFECT:
            for word in NON_AFFECT_WORDS.get(tag_class, ()):
                self._whole.setdefault(compact(variant_key(word)), tag_class)
        self._tokens: dict[str, str] = {}
        for tag_class, words in NON_AFFECT_TOKENS.items():
            for word in words:
                self._tokens.setdefault(compact(variant_key(word)), tag_class)
        self._genres = {k for k, c in self._whole.items() if c == TagClass.GENRE}
        self.decide = lru_cache(maxsize=None)(self._decide)

    def is_affect_word(self, word: str) -> bool:
        """``word`` (one token) is an affect word or a simple inflection of one."""
        if word in self._affect:
            return True
        for suffix in _INFLECTIONS:
            if len(word) > len(suffix) + 2 and word.endswith(suffix):
                stem = word[: -len(suffix)]
                candidates = {stem, stem + "e"}
                if stem.endswith("i"):
                    candidates.add(stem[:-1] + "y")
                if len(stem) > 2 and stem[-1] == stem[-2]:
                    candidates.add(stem[:-1])
                if candidates & self._affect:
                    return True
        return False

    def _is_affect_phrase(self, words: tuple[str, ...]) -> bool:
        """Every word is filler or part of an affect phrase, and at least one is affect."""
        feeling_verbs = FEELING_VERBS if {"make", "makes", "made"} & set(words) else frozenset()
        i, found = 0, False
        while i < len(words):
            for size in range(min(_MAX_PHRASE, len(words) - i), 0, -1):
                part = words[i : i + size]
                if compact(part) in self._affect or (
                    size == 1 and (self.is_affect_word(part[0]) or part[0] in feeling_verbs)
                ):
                    i, found = i + size, True
                    break
            else:
                if words[i] not in FILLER_WORDS:
                    return False
                i += 1
        return found

    def _genre_compound(self, word: str) -> str | None:
        for prefix in GENRE_PREFIXES:
            rest = word[len(prefix) :]
            if word.startswith(prefix) and (rest in self._genres or rest in self._tokens):
                return f"prefix {prefix!r}"
        for suffix in GENRE_SUFFIXES:
            if word.endswith(suffix) and len(word) > len(suffix) + 1:
                return f"suffix {suffix!r}"
        return None

    def _whole_tag(self, words: tuple[str, ...], key: str) -> TagDecision | None:
        """Rules 1-3: the whole tag is listed, a year or decade, or only numbers."""
        if key in self._affect:
            return TagDecision(True, TagClass.AFFECT, "affect vocabulary")
        if key in self._whole:
            return TagDecision(False, self._whole[key], "class vocabulary")
        meta = any(self._tokens.get(w) == TagClass.LIKING_META for w in words)
        dated = _DECADE.match(key) or any(_YEAR.match(w) or _DECADE.match(w) for w in words)
        if dated and not meta:  # "under 2000 listeners" is a meta tag, not a year
            return TagDecision(False, TagClass.ERA, "year or decade")
        if all(w.isdigit() for w in words):
            return TagDecision(False, TagClass.LIKING_META, "rating numbers")
        return None

    def _by_word(self, words: tuple[str, ...]) -> TagDecision | None:
        """Rule 5: a genre prefix or compound, or a word of a non-affect class."""
        if len(words) > 1 and words[0] in GENRE_PREFIXES:
            rest = compact(words[1:])
            if rest in self._genres or any(w in self._tokens for w in words[1:]):
                return TagDecision(False, TagClass.GENRE, f"prefix {words[0]!r}")
        for tag_class in TagClass.NON_AFFECT:
            for word in words:
                if self._tokens.get(word, self._tokens.get(word.removesuffix("s"))) == tag_class:
                    return TagDecision(False, tag_class, f"word {word!r}")
            rules = [self._genre_compound(w) for w in words] if tag_class == TagClass.GENRE else []
            for rule in rules:
                if rule:
                    return TagDecision(False, TagClass.GENRE, rule)
        return None

    def _decide(self, tag: str) -> TagDecision:
        words = variant_key(tag)
        key = compact(words)
        if not key:
            return TagDecision(False, TagClass.UNLISTED, "empty tag")
        decision = self._whole_tag(words, key)
        if decision is None and self._is_affect_phrase(words):
            decision = TagDecision(True, TagClass.AFFECT, "affect phrase")
        decision = decision or self._by_word(words)
        return decision or TagDecision(False, TagClass.UNLISTED, "no affect word")


def lexicon_aliases(tags: Iterable[str], lexicon_words: Iterable[str]) -> dict[str, str]:
    """``{normalised tag: lexicon word}`` for tags that are a spelling variant of a lexicon
    entry but not the entry itself ("feelgood" -> "feel good")."""
    by_key: dict[str, str] = {}
    for word in lexicon_words:
        by_key.setdefault(compact(variant_key(word)), word)
    words = set(by_key.values())
    aliases = {}
    for tag in tags:
        target = by_key.get(compact(variant_key(tag)))
        if target is not None and tag not in words and target != tag:
            aliases[tag] = target
    return aliases


def make_tag_filter(
    tag_filter: str, stop_words: frozenset[str], extra_affect_words: Iterable[str] = ()
) -> StopListFilter | AffectFilter:
    """The filter named by ``dataset_creation.tag_filter``."""
    if tag_filter == "stop_list":
        return StopListFilter(stop_words)
    if tag_filter == "affect":
        return AffectFilter(extra_affect_words)
    raise ParameterError(f"tag_filter must be one of {TAG_FILTERS}, got {tag_filter!r}")
