"""Unknown parameter keys fail a run before any node runs, with a did-you-mean suggestion.

The keys of ``conf/base/parameters*.yml`` are the schema: every key a pipeline reads is
declared there, with its default and its documentation. A key that another environment
(``conf/local``) or ``--params`` adds under them, or beside them, is a typo or a setting that
no longer exists, and would otherwise be silently ignored (``feature_extraction.mfcc.n_mfccs=20``
runs with 13 coefficients). Values are checked by the pipelines that read them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from soundtrack_emotion.exceptions import ParameterError

# How close a known key must be to an unknown one to be suggested (difflib ratio).
SUGGESTION_CUTOFF = 0.6


def unknown_keys(
    params: Mapping[str, Any], known: Mapping[str, Any], prefix: str = ""
) -> list[tuple[str, str | None]]:
    """``(dotted key, suggestion or None)`` for every key of ``params`` that ``known`` lacks,
    recursing where both hold a mapping."""
    found = []
    for key, value in _nested(params).items():
        name = f"{prefix}{key}"
        if key not in known:
            close = difflib.get_close_matches(
                str(key), list(map(str, known)), n=1, cutoff=SUGGESTION_CUTOFF
            )
            found.append((name, f"{prefix}{close[0]}" if close else None))
        elif isinstance(value, Mapping) and isinstance(known[key], Mapping):
            found += unknown_keys(value, known[key], prefix=f"{name}.")
    return found


def _nested(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with dotted keys (``{"a.b": 1}``, as runtime parameters may come) nested."""
    nested: dict[str, Any] = {}
    for key, value in params.items():
        *parents, leaf = str(key).split(".")
        level = nested
        for part in parents:
            level = level.setdefault(part, {})
            if not isinstance(level, dict):
                break
        else:
            if isinstance(value, Mapping) and isinstance(level.get(leaf), dict):
                level[leaf] |= dict(value)
            else:
                level[leaf] = value
    return nested


def check_parameter_keys(params: Mapping[str, Any], known: Mapping[str, Any]) -> None:
    """Raise :class:`ParameterError` naming every key of ``params`` not declared in
    ``known`` (the base parameters), each with the closest declared key if there is one."""
    unknown = unknown_keys(params, known)
    if not unknown:
        return
    parts = [
        f"{name} (did you mean {suggestion}?)" if suggestion else name
        for name, suggestion in unknown
    ]
    raise ParameterError(
        f"unknown parameter{'s' if len(parts) > 1 else ''}: {', '.join(parts)}. Every "
        "parameter is declared in conf/base/parameters*.yml; a key that is not would be "
        "ignored, so nothing ran."
    )
