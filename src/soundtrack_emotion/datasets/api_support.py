"""What the API client datasets share: credentials, secret hygiene, ``Retry-After``.

Credentials come from the catalog's ``credentials:`` (``conf/local/credentials.yml``) or, for
every field left empty there, from environment variables. They are never logged: the client
datasets register them here, and a filter on the HTTP libraries' loggers masks them (and any
``Basic``/``Bearer`` authorisation header) even when those libraries log at DEBUG level.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from soundtrack_emotion.exceptions import PrerequisiteError

MASK = "***"
# Loggers of the libraries that see credentials (request bodies, headers, URLs).
_LIBRARY_LOGGERS = (
    "pylast",
    "httpx2",
    "httpcore2",
    "spotipy.client",
    "spotipy.oauth2",
    "spotipy.util",
    "urllib3.connectionpool",
    "requests",
)
_AUTH_HEADER = re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]+")
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


def resolve_credentials(
    credentials: Mapping[str, object] | None,
    env_vars: Mapping[str, Sequence[str]],
    *,
    service: str,
    key: str,
) -> dict[str, str]:
    """Each field of ``env_vars`` from ``credentials`` or else from its first set variable.

    Raises :class:`PrerequisiteError` naming the missing fields and where to put them (never
    any value).
    """
    credentials = credentials or {}
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for field, names in env_vars.items():
        value = credentials.get(field)
        if value in (None, ""):
            value = next((os.environ[n] for n in names if os.environ.get(n)), None)
        if value in (None, ""):
            missing.append(f"{field} (or env {' / '.join(names)})")
        else:
            resolved[field] = str(value)
    if missing:
        raise PrerequisiteError(
            f"{service} credentials missing: {', '.join(missing)}. Put them under "
            f"'{key}:' in conf/local/credentials.yml (template: "
            "conf/local/credentials.example.yml) or set the environment variables."
        )
    return resolved


class _SecretFilter(logging.Filter):
    """Masks registered secrets and authorisation headers in log records."""

    def __init__(self) -> None:
        super().__init__("soundtrack_emotion.secrets")
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: str) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH)

    def redact(self, text: str) -> str:
        text = _AUTH_HEADER.sub(rf"\1 {MASK}", text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _SecretFilter()


def protect_secrets(*secrets: str) -> None:
    """Mask ``secrets`` in everything the HTTP libraries log from now on.

    A logger's filter sees only the records logged on that very logger, not those of its
    children (``httpcore2.http11``), so the filter also goes on the root logger's handlers,
    which every propagated record passes through.
    """
    _FILTER.add(*secrets)
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def redact(text: str) -> str:
    """``text`` with every registered secret and authorisation header masked."""
    return _FILTER.redact(text)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` value (delta-seconds or HTTP-date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
