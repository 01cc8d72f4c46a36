"""Credential values never reach a log, at any level, from any logger: masked by value.

Every configured credential value is registered here and replaced by ``***`` in each log
record *when the record is created*, by a :func:`logging.setLogRecordFactory` wrapper. A
factory sees every record of every logger, including loggers that do not propagate and
handlers configured later (Kedro's ``logging.yml`` / ``KEDRO_LOGGING_CONFIG`` replaces the
root handlers, so a filter on them would be lost), before any handler (console, rich, files)
formats it. The message and its arguments (dict and object reprs included) and ``stack_info``
are masked, as are ``Basic``/``Bearer`` authorisation headers and URL-encoded values; an
``exc_info`` traceback that would show a value (or a rich handler rendering frame locals) is
kept only as masked text. Uncaught exceptions that would show a value are printed masked too.

:func:`mask_project_credentials` registers the values at start-up (``settings.py``, imported
before the first hook runs): literal values in every ``conf/*/credentials*.yml`` and the
documented environment variables. The client datasets register the values they are given, and
:class:`~soundtrack_emotion.runtime.hooks.SecretMaskingHook` the credentials Kedro resolves.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, quote_plus

import yaml

MASK = "***"
# The environment variables the API client datasets read credentials from (their fallback for
# fields left empty in credentials.yml). SPOTIPY_* are spotipy's (and savify's) own names.
CREDENTIAL_ENV_VARS: dict[str, dict[str, tuple[str, ...]]] = {
    "lastfm": {"api_key": ("LASTFM_API_KEY",), "api_secret": ("LASTFM_API_SECRET",)},
    "spotify": {
        "client_id": ("SPOTIFY_CLIENT_ID", "SPOTIPY_CLIENT_ID"),
        "client_secret": ("SPOTIFY_CLIENT_SECRET", "SPOTIPY_CLIENT_SECRET"),
    },
}
_AUTH_HEADER = re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]+")
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()  # longest first: a value containing another is masked whole


def register(*values: object) -> None:
    """Mask ``values`` (and their URL-encoded forms) in every log record from now on.

    Non-strings, empty and very short values are ignored. Installs the masking on first use.
    """
    global _ordered  # noqa: PLW0603
    new = set()
    for value in values:
        if isinstance(value, str) and len(value.strip()) >= _MIN_SECRET_LENGTH:
            new.update({value, quote(value, safe=""), quote_plus(value)})
    with _lock:
        if not new <= _secrets:
            _secrets.update(new)
            _ordered = tuple(sorted(_secrets, key=len, reverse=True))
    install()


def redact(text: str) -> str:
    """``text`` with every registered value and authorisation header masked."""
    text = _AUTH_HEADER.sub(rf"\1 {MASK}", text)
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def contains_secret(text: str) -> bool:
    return redact(text) != text


def credential_values(config: object) -> Iterator[str]:
    """Every string leaf of a (nested) credentials mapping, interpolations (``${...}``) left out."""
    if isinstance(config, Mapping):
        for value in config.values():
            yield from credential_values(value)
    elif isinstance(config, list | tuple):
        for value in config:
            yield from credential_values(value)
    elif isinstance(config, str) and not config.lstrip().startswith("${"):
        yield config


def mask_credentials(config: object) -> None:
    """Register every value of a credentials mapping (as Kedro loads ``credentials``)."""
    register(*credential_values(config))


def mask_project_credentials(conf_source: str | Path = "conf") -> None:
    """Register the credentials of a project before anything can log them: the values of the
    documented environment variables and the literal values of every ``credentials*`` file in
    every environment of ``conf_source``. Unreadable files are left to Kedro to report."""
    register(*(os.environ.get(name) for name in _credential_env_var_names()))
    conf = Path(conf_source)
    files = sorted(conf.rglob("credentials*")) if conf.is_dir() else []
    for path in files:
        if path.suffix not in (".yml", ".yaml", ".json") or not path.is_file():
            continue
        try:
            credentials = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        mask_credentials(credentials)
        if _has_literal_value(credentials) and "example" not in path.name:
            warn_if_readable_by_others(path)
    install()


def _has_literal_value(data: Any) -> bool:
    """Whether ``data`` (a credentials file's content) holds a secret itself, rather than only
    ``${oc.env:...}`` references to the environment (as conf/base's template does)."""
    if isinstance(data, Mapping):
        return any(_has_literal_value(value) for value in data.values())
    if isinstance(data, list):
        return any(_has_literal_value(value) for value in data)
    return isinstance(data, str | int) and not str(data).strip().startswith("${") and bool(
        str(data).strip()
    )


def warn_if_readable_by_others(path: Path) -> bool:
    """Log a warning when users other than the owner may read the credentials file ``path``;
    True when they may."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return False
    logging.getLogger(__name__).warning(
        "%s can be read by other users of this machine (mode %s): chmod 600 %s",
        path,
        stat.filemode(mode),
        path,
    )
    return True


def _credential_env_var_names() -> list[str]:
    return sorted(
        name for fields in CREDENTIAL_ENV_VARS.values() for names in fields.values()
        for name in names
    )  # fmt: skip


# ------------------------------------------------------------------------------- the masking
def _format_exception(exc_info: tuple[Any, Any, Any]) -> str:
    return "".join(traceback.format_exception(*exc_info)).rstrip("\n")


def _locals_may_show() -> bool:
    """Whether a configured rich handler renders tracebacks with local variables, whose reprs
    can hold a value that the plain traceback does not show."""
    loggers = [logging.getLogger(), *list(logging.Logger.manager.loggerDict.values())]
    return any(
        getattr(handler, "tracebacks_show_locals", False)
        for logger in loggers
        for handler in getattr(logger, "handlers", ())
    )


def _shows_secret(traceback_text: str) -> bool:
    return bool(_ordered) and (contains_secret(traceback_text) or _locals_may_show())


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask ``record`` in place. The formatted message replaces ``msg`` and ``args`` when it
    shows a value; an exception that would show one is kept only as its masked traceback text
    (``exc_text``), so that no handler, rich's tracebacks included, renders the exception."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it, without the values
        record.msg, record.args = redact(f"{record.msg!s} (unformattable arguments)"), None
    else:
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[0] is not None:
        text = _format_exception(record.exc_info)
        if _shows_secret(text):
            record.exc_info, record.exc_text = None, redact(text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class _MaskingRecordFactory:
    """Wraps the record factory in place when installed, masking each record it makes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        try:
            return mask_record(record)
        except Exception:  # never let masking break the caller, never let a value through
            record.msg, record.args = "(log record withheld: it could not be masked)", None
            record.exc_info = record.exc_text = record.stack_info = None
            return record


class _MaskingExceptHook:
    """``sys.excepthook`` that prints an uncaught exception which would show a value as its
    masked plain traceback; any other goes to the hook it wraps (rich's, installed by Kedro's
    ``RichHandler``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(
        self, kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        text = _format_exception((kind, error, tb))
        if _shows_secret(text):
            sys.stderr.write(redact(text) + "\n")
        else:
            self.inner(kind, error, tb)


def install() -> None:
    """Put the masking record factory (and except hook) in place; idempotent, and again after
    something replaced them."""
    with _lock:
        if not isinstance(logging.getLogRecordFactory(), _MaskingRecordFactory):
            logging.setLogRecordFactory(_MaskingRecordFactory(logging.getLogRecordFactory()))
        if not isinstance(sys.excepthook, _MaskingExceptHook):
            sys.excepthook = _MaskingExceptHook(sys.excepthook)
