"""The normal form of a mood word, shared by the labels and by mood search.

A Last.fm tag, a lexicon entry and a word typed into a mood search are compared in this one
form, so that a word means the same thing when it labels a training track and when it
describes the mood a user is looking for.
"""

from __future__ import annotations

import re
import unicodedata

# Whitespace, ASCII hyphen, underscore and the Unicode hyphens and dashes (U+2010..U+2015).
_SEPARATORS = re.compile(r"[\s\-_\u2010-\u2015]+")


def normalise_tag(text: str) -> str:
    """Normal form of a tag or lexicon entry: NFKC, case-folded, hyphens/underscores as
    spaces, inner whitespace collapsed, no surrounding whitespace.

    >>> normalise_tag("  Feel-Good   MUSIC ")
    'feel good music'
    """
    return " ".join(_SEPARATORS.split(unicodedata.normalize("NFKC", text).casefold())).strip()
