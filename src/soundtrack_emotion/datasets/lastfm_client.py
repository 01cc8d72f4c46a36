"""Last.fm web-service client built on pylast, returning the raw JSON bodies.

pylast's public objects parse XML into Python objects, but the raw layer stores each answer
exactly as Last.fm sends it with ``format=json``. So the client uses pylast's request class
``pylast._Request`` (private; pylast is pinned in pyproject.toml and the tests run this path)
for parameters, api_key, signing, HTTP and the mapping of HTTP 5xx and network failures to
exceptions, with ``format=json`` and a JSON error check, and pylast's network object with an
HTTP transport that points it at a configurable API root (``http://127.0.0.1:<port>/2.0/`` in
tests, a mirror, or the real ``https://ws.audioscrobbler.com/2.0/``), applies the time-out and
remembers each answer's HTTP status and ``Retry-After``.

One :meth:`LastfmClient.call` is one HTTP request: retrying and rate limiting belong to the
caller (see ``pipelines/acquisition/retry.py``), which sees the outcome as bytes or as a
:class:`~soundtrack_emotion.exceptions.FetchError` /
:class:`~soundtrack_emotion.exceptions.RetryableFetchError` with a short reason.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import pylast
from kedro.io import AbstractDataset, DatasetError

from soundtrack_emotion.datasets.api_support import (
    parse_retry_after,
    protect_secrets,
    redact,
    resolve_credentials,
)
from soundtrack_emotion.exceptions import (
    FetchError,
    ParameterError,
    PrerequisiteError,
    RetryableFetchError,
)
from soundtrack_emotion.secret_masking import CREDENTIAL_ENV_VARS

LASTFM_API_ROOT = "https://ws.audioscrobbler.com/2.0/"
LASTFM_ENV_VARS = CREDENTIAL_ENV_VARS["lastfm"]
# Last.fm error codes that say "try again later": operation failed, service offline,
# temporarily unavailable, rate limit exceeded (https://www.last.fm/api/errorcodes).
RETRYABLE_LASTFM_ERRORS = frozenset({8, 11, 16, 29})
# Authentication failed, invalid API key, API key suspended: every further request would fail.
FATAL_LASTFM_ERRORS = frozenset({4, 10, 26})
_HTTP_TOO_MANY_REQUESTS = 429
_HTTP_ERROR = 400
_HTTP_SERVER_ERROR = 500


@dataclass(frozen=True)
class _Answer:
    status_code: int
    retry_after: str | None


class _ApiRootTransport(httpx.BaseTransport):
    """Sends pylast's ``https://<host>/<path>`` requests with the API root's scheme and the
    client's time-out, and remembers the status and ``Retry-After`` of each answer."""

    def __init__(self, *, scheme: str, timeout_s: float) -> None:
        self._scheme = scheme
        self._timeout = httpx.Timeout(timeout_s).as_dict()
        self._inner = httpx.HTTPTransport(verify=pylast.SSL_CONTEXT)
        self._last = threading.local()

    @property
    def last_answer(self) -> _Answer | None:
        return getattr(self._last, "answer", None)

    def forget(self) -> None:
        self._last.answer = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != self._scheme:
            request.url = request.url.copy_with(scheme=self._scheme)
        request.extensions = {**request.extensions, "timeout": self._timeout}
        response = self._inner.handle_request(request)
        self._last.answer = _Answer(response.status_code, response.headers.get("Retry-After"))
        return response

    # pylast opens and closes an httpx.Client per request; the connection pool outlives them.
    def __enter__(self) -> _ApiRootTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def close(self) -> None:
        self._inner.close()


class _JsonRequest(pylast._Request):
    """pylast's web-service request, answered in JSON (``format=json``) instead of XML."""

    def _check_response_for_errors(self, response: str) -> None:
        try:
            body = json.loads(response)
        except ValueError as error:
            raise pylast.MalformedResponseError(self.network, error) from error
        if isinstance(body, dict) and "error" in body:
            raise pylast.WSError(self.network, str(body["error"]), str(body.get("message", "")))


class LastfmClient:
    """Raw-JSON Last.fm client; one :meth:`call` is one HTTP request."""

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        api_root: str = LASTFM_API_ROOT,
        timeout_s: float = 20.0,
    ) -> None:
        if timeout_s <= 0:
            raise ParameterError(f"timeout_s must be > 0, got {timeout_s!r}")
        root = urlsplit(api_root)
        if root.scheme not in ("http", "https") or not root.netloc:
            raise ParameterError(f"api_root must be an http(s) URL, got {api_root!r}")
        protect_secrets(api_key, api_secret)
        self.api_root = api_root
        self._transport = _ApiRootTransport(scheme=root.scheme, timeout_s=timeout_s)
        # pylast hands a dict ``proxy`` to httpx as its transport mounts: our transport.
        self._network = pylast.LastFMNetwork(
            api_key=api_key, api_secret=api_secret, proxy={"https://": self._transport}
        )
        self._network.ws_server = (root.netloc, root.path or "/")

    def __repr__(self) -> str:  # pylast's own repr shows the key
        return f"LastfmClient(api_root={self.api_root!r})"

    def close(self) -> None:
        self._transport.close()

    def tag_top_tracks(self, tag: str, *, page: int, limit: int) -> bytes:
        """``tag.getTopTracks`` body: ``{"tracks": {"track": [...], "@attr": {...}}}``."""
        return self.call("tag.getTopTracks", tag=tag, page=page, limit=limit)

    def track_top_tags(self, artist: str, title: str) -> bytes:
        """``track.getTopTags`` body: ``{"toptags": {"tag": [...], "@attr": {...}}}``."""
        return self.call("track.getTopTags", artist=artist, track=title)

    def call(self, method: str, **params: str | int) -> bytes:
        """One request to ``method``; the body exactly as received (UTF-8 JSON bytes)."""
        self._transport.forget()
        request = _JsonRequest(self._network, method, {**params, "format": "json"})
        try:
            text = request._download_response()
        except pylast.NetworkError as error:
            underlying = error.underlying_error
            if isinstance(underlying, httpx.TimeoutException):
                raise RetryableFetchError("timeout", redact(str(underlying))) from error
            raise RetryableFetchError("connection_error", redact(str(underlying))) from error
        except pylast.WSError as error:
            raise self._classify_ws_error(error) from error
        except (pylast.MalformedResponseError, UnicodeDecodeError) as error:
            raise self._http_status_error() or FetchError(
                "malformed_json", redact(str(error))[:300]
            ) from error
        status_error = self._http_status_error()
        if status_error is not None:
            raise status_error
        return text.encode("utf-8")

    def _classify_ws_error(self, error: pylast.WSError) -> FetchError:
        answer = self._transport.last_answer
        code = int(error.status) if str(error.status).isdigit() else -1
        detail = redact(str(error.details))
        if code >= _HTTP_SERVER_ERROR:  # pylast's own mapping of HTTP 5xx
            return RetryableFetchError(f"http_{code}", detail)
        if answer is not None and answer.status_code == _HTTP_TOO_MANY_REQUESTS:
            return RetryableFetchError(
                "http_429", detail, retry_after_s=parse_retry_after(answer.retry_after)
            )
        reason = f"lastfm_error_{error.status}"
        if code in FATAL_LASTFM_ERRORS:
            raise PrerequisiteError(f"Last.fm rejected the API key ({reason}: {detail})")
        if code in RETRYABLE_LASTFM_ERRORS:
            retry_after = parse_retry_after(answer.retry_after) if answer else None
            return RetryableFetchError(reason, detail, retry_after_s=retry_after)
        return FetchError(reason, detail)

    def _http_status_error(self) -> FetchError | None:
        answer = self._transport.last_answer
        if answer is None or answer.status_code < _HTTP_ERROR:
            return None
        reason = f"http_{answer.status_code}"
        if answer.status_code == _HTTP_TOO_MANY_REQUESTS:
            return RetryableFetchError(reason, retry_after_s=parse_retry_after(answer.retry_after))
        if answer.status_code >= _HTTP_SERVER_ERROR:
            return RetryableFetchError(reason)
        return FetchError(reason)


class LastfmClientDataset(AbstractDataset[None, LastfmClient]):
    """Kedro dataset whose ``load`` returns a configured :class:`LastfmClient`.

    ``credentials`` (``api_key``, ``api_secret``) come from ``conf/local/credentials.yml``;
    fields left empty fall back to ``LASTFM_API_KEY`` / ``LASTFM_API_SECRET``. Missing ones
    fail at ``load``, i.e. before the crawl starts::

        lastfm_client:
          type: soundtrack_emotion.datasets.LastfmClientDataset
          credentials: lastfm
          api_root: https://ws.audioscrobbler.com/2.0/
    """

    def __init__(
        self,
        *,
        credentials: dict[str, Any] | None = None,
        api_root: str = LASTFM_API_ROOT,
        timeout_s: float = 20.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._credentials = dict(credentials or {})
        self._api_root = api_root
        self._timeout_s = timeout_s
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"api_root": self._api_root, "timeout_s": self._timeout_s}

    def load(self) -> LastfmClient:
        credentials = resolve_credentials(
            self._credentials, LASTFM_ENV_VARS, service="Last.fm", key="lastfm"
        )
        return LastfmClient(**credentials, api_root=self._api_root, timeout_s=self._timeout_s)

    def save(self, data: None) -> None:
        raise DatasetError(f"{self} is a read-only API client")
