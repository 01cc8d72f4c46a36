"""Read a word -> valence/arousal/dominance lexicon, whatever its published format.

Supported formats (``format`` argument), all rescaled to 0..1:

* ``nrc_vad_v1``: NRC-VAD v1 (Mohammad 2018), tab-separated, header
  ``Word  Valence  Arousal  Dominance``, scores 0..1.
* ``nrc_vad_v2``: NRC-VAD v2.1 (2025), same layout (header ``term`` or ``word`` first), scores
  -1..1, entries may be multi-word phrases.
* ``warriner``: Warriner, Kuperman & Brysbaert (2013) norms, CSV with columns ``Word``,
  ``V.Mean.Sum``, ``A.Mean.Sum``, ``D.Mean.Sum`` (among others), scores 1..9.

The NRC lexicons may not be redistributed: the project never ships them; point the catalog
entry ``vad_lexicon_source`` at your copy.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from typing import Any

import fsspec
import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import LexiconFormatError

_TOLERANCE = 1e-6


@dataclass(frozen=True)
class LexiconFormat:
    """How one published lexicon is laid out and scaled."""

    name: str
    description: str
    delimiter: str
    word_columns: tuple[str, ...]  # accepted names of the word column (case-insensitive)
    score_columns: tuple[str, str, str]  # valence, arousal, dominance (case-insensitive)
    low: float
    high: float

    def rescale(self, value: float) -> float:
        return (value - self.low) / (self.high - self.low)


LEXICON_FORMATS: dict[str, LexiconFormat] = {
    fmt.name: fmt
    for fmt in (
        LexiconFormat(
            "nrc_vad_v1",
            "NRC-VAD v1: tab-separated, header 'Word<TAB>Valence<TAB>Arousal<TAB>Dominance', "
            "scores 0..1",
            "\t",
            ("word",),
            ("valence", "arousal", "dominance"),
            0.0,
            1.0,
        ),
        LexiconFormat(
            "nrc_vad_v2",
            "NRC-VAD v2.1: tab-separated, header 'term<TAB>valence<TAB>arousal<TAB>dominance', "
            "scores -1..1",
            "\t",
            ("term", "word"),
            ("valence", "arousal", "dominance"),
            -1.0,
            1.0,
        ),
        LexiconFormat(
            "warriner",
            "Warriner et al. 2013: CSV with columns Word, V.Mean.Sum, A.Mean.Sum, D.Mean.Sum, "
            "scores 1..9",
            ",",
            ("word",),
            ("v.mean.sum", "a.mean.sum", "d.mean.sum"),
            1.0,
            9.0,
        ),
    )
}


def _format(name: str, filepath: str) -> LexiconFormat:
    try:
        return LEXICON_FORMATS[name]
    except KeyError:
        raise LexiconFormatError(
            f"unknown lexicon format {name!r} for {filepath}; expected one of "
            f"{sorted(LEXICON_FORMATS)}"
        ) from None


def parse_vad_lexicon(text: str, *, fmt: str, source: str = "<text>") -> pd.DataFrame:
    """Parse lexicon ``text`` in format ``fmt`` into ``word, valence, arousal, dominance``
    (one row per entry, scores rescaled to [0, 1], words as written in the file).

    Raises ``LexiconFormatError`` naming ``source``, the line and the expected format when the
    header, a row or a score does not fit.
    """
    spec = _format(fmt, source)

    def fail(problem: str) -> LexiconFormatError:
        return LexiconFormatError(
            f"{source} is not a valid {spec.name} lexicon: {problem}. Expected {spec.description}."
        )

    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=spec.delimiter)
    header = next(rows, None)
    if not header:
        raise fail("the file is empty")
    names = [h.strip().casefold() for h in header]
    word_col = next((names.index(c) for c in spec.word_columns if c in names), None)
    missing = [c for c in spec.score_columns if c not in names]
    if word_col is None or missing:
        raise fail(f"header {header!r} lacks {[*spec.word_columns[:1], *missing]}")
    score_cols = [names.index(c) for c in spec.score_columns]
    width = max(word_col, *score_cols) + 1

    words: list[str] = []
    scores: list[tuple[float, float, float]] = []
    for line_no, row in enumerate(rows, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < width:
            raise fail(f"line {line_no} has {len(row)} fields, expected at least {width}")
        word = row[word_col].strip()
        if not word:
            raise fail(f"line {line_no} has an empty word")
        try:
            values = [float(row[c]) for c in score_cols]
        except ValueError:
            raise fail(f"line {line_no} ({word!r}) has a non-numeric score") from None
        for label, value in zip(VAD_LABELS, values, strict=True):
            if not (spec.low - _TOLERANCE <= value <= spec.high + _TOLERANCE) or math.isnan(value):
                raise fail(
                    f"line {line_no} ({word!r}) has {label} {value}, outside "
                    f"[{spec.low:g}, {spec.high:g}]"
                )
        words.append(word)
        scores.append(tuple(min(1.0, max(0.0, spec.rescale(v))) for v in values))
    if not words:
        raise fail("it has a header but no entries")
    table = pd.DataFrame(scores, columns=list(VAD_LABELS), dtype="float64")
    table.insert(0, "word", pd.Series(words, dtype="str"))
    return table


def _read_text(
    filepath: str, *, encoding: str, credentials: dict[str, Any], expected: str, missing: str
) -> str:
    """The whole text of a published file (local or fsspec URL), or a
    :class:`LexiconFormatError`: ``missing`` when it is not there, the encoding and what was
    ``expected`` when it is not text in ``encoding``."""
    try:
        with fsspec.open(filepath, "r", encoding=encoding, **credentials) as handle:
            return handle.read()
    except FileNotFoundError:
        raise LexiconFormatError(missing) from None
    except UnicodeDecodeError as exc:
        raise LexiconFormatError(
            f"{filepath} is not {encoding} text ({exc.reason}); expected {expected}"
        ) from None


class VadLexiconDataset(AbstractDataset[None, pd.DataFrame]):
    """Read-only Kedro dataset: a VAD lexicon file -> ``word, valence, arousal, dominance``.

    ::

        vad_lexicon_source:
          type: soundtrack_emotion.datasets.VadLexiconDataset
          filepath: /data/lexicons/NRC-VAD-Lexicon.txt
          format: nrc_vad_v1          # nrc_vad_v1 | nrc_vad_v2 | warriner
    """

    def __init__(
        self,
        *,
        filepath: str | os.PathLike[str],
        format: str,
        encoding: str = "utf-8",
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._filepath = os.fspath(filepath)
        self._format = _format(format, self._filepath).name
        self._encoding = encoding
        self._credentials = credentials or {}
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "format": self._format}

    def load(self) -> pd.DataFrame:
        spec = LEXICON_FORMATS[self._format]
        text = _read_text(
            self._filepath,
            encoding=self._encoding,
            credentials=self._credentials,
            expected=spec.description,
            missing=f"lexicon file not found: {self._filepath}. Expected a {spec.name} lexicon "
            f"({spec.description}); set its path in the catalog entry (see README).",
        )
        return parse_vad_lexicon(text, fmt=self._format, source=self._filepath)

    def save(self, data: None) -> None:
        raise DatasetError(f"{self} is read-only: lexicons are published files, not outputs")

    def _exists(self) -> bool:
        fs, path = fsspec.core.url_to_fs(self._filepath, **self._credentials)
        return bool(fs.exists(path))


AFFECT_WORD_FORMATS = {
    "words": "one affect word or phrase per line; '#' starts a comment",
    "nrc_emolex": "NRC EmoLex word-level: word<TAB>emotion<TAB>0|1; a word is affect when it "
    "has 1 for any of the eight emotions (positive/negative alone do not count)",
}
_EMOLEX_POLARITY = {"positive", "negative"}


def parse_affect_words(text: str, *, fmt: str, source: str = "<text>") -> list[str]:
    """The affect words of a word list in ``fmt`` (``AFFECT_WORD_FORMATS``), file order."""
    if fmt not in AFFECT_WORD_FORMATS:
        raise LexiconFormatError(
            f"unknown affect word list format {fmt!r} for {source}; "
            f"expected one of {sorted(AFFECT_WORD_FORMATS)}"
        )
    words: dict[str, None] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if fmt == "words" else raw.strip()
        if not line:
            continue
        if fmt == "words":
            words[line] = None
            continue
        fields = line.split("\t")
        if len(fields) != 3 or fields[2] not in ("0", "1"):
            raise LexiconFormatError(
                f"{source} line {number}: expected word<TAB>emotion<TAB>0|1, got {line[:80]!r}"
            )
        if fields[2] == "1" and fields[1].strip().casefold() not in _EMOLEX_POLARITY:
            words[fields[0].strip()] = None
    return list(words)


class AffectWordListDataset(AbstractDataset[None, list]):
    """Read-only Kedro dataset: a user's affect word list (WordNet-Affect words, NRC EmoLex)
    that the affect tag filter adds to the project's vocabulary. Such lists may not be
    redistributable: point the catalog at your copy. Without ``filepath`` it is empty.

    ::

        affect_words_source:
          type: soundtrack_emotion.datasets.AffectWordListDataset
          filepath: /data/lexicons/NRC-Emotion-Lexicon-Wordlevel-v0.92.txt
          format: nrc_emolex          # words | nrc_emolex
    """

    def __init__(
        self,
        *,
        filepath: str | os.PathLike[str] | None = None,
        format: str = "words",
        encoding: str = "utf-8",
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if format not in AFFECT_WORD_FORMATS:
            raise LexiconFormatError(
                f"unknown affect word list format {format!r}; expected one of "
                f"{sorted(AFFECT_WORD_FORMATS)}"
            )
        self._filepath = os.fspath(filepath) if filepath is not None else None
        self._format = format
        self._encoding = encoding
        self._credentials = credentials or {}
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "format": self._format}

    def load(self) -> list[str]:
        if self._filepath is None:
            return []
        expected = AFFECT_WORD_FORMATS[self._format]
        text = _read_text(
            self._filepath,
            encoding=self._encoding,
            credentials=self._credentials,
            expected=expected,
            missing=f"affect word list not found: {self._filepath} ({expected}); fix its path "
            "or remove filepath",
        )
        return parse_affect_words(text, fmt=self._format, source=self._filepath)

    def save(self, data: None) -> None:
        raise DatasetError(f"{self} is read-only: word lists are published files, not outputs")

    def _exists(self) -> bool:
        if self._filepath is None:
            return True
        fs, path = fsspec.core.url_to_fs(self._filepath, **self._credentials)
        return bool(fs.exists(path))
