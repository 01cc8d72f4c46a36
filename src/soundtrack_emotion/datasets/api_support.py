"""What the API client datasets share: credentials, secret hygiene, ``Retry-After``.

Credentials come from the catalog's ``credentials:`` (``conf/local/credentials.yml``) or, for
every field left empty there, from environment variables. They are never logged: the client
datasets register the values they use with :mod:`soundtrack_emotion.secret_masking`, which
masks them in every log record of every logger, at any level (the project's start-up has
registered the configured values already; registering them again covers the datasets used
outside a Kedro session, e.g. in a notebook).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from soundtrack_emotion import secret_masking
from soundtrack_emotion.exceptions import PrerequisiteError


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


def protect_secrets(*secrets: str) -> None:
    """Mask ``secrets`` in every log record from now on (any logger, any level)."""
    secret_masking.register(*secrets)


def redact(text: str) -> str:
    """``text`` with every registered secret and authorisation header masked."""
    return secret_masking.redact(text)


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
