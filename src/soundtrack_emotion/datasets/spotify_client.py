"""Spotify Web API client built on spotipy's client-credentials flow, returning raw bodies.

spotipy is configured with its own ``requests`` session (no hidden urllib3 retries: the
crawl's retry policy decides), an in-memory token cache (spotipy's default writes the token to
a ``.cache`` file in the working directory), a configurable API root (``Spotify.prefix``) and
token URL, and a response hook that keeps the raw body of each answer, so the raw layer stores
the search answer exactly as Spotify sent it.
"""

from __future__ import annotations

import base64
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
import spotipy
from kedro.io import AbstractDataset, DatasetError
from spotipy.cache_handler import MemoryCacheHandler

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

SPOTIFY_API_ROOT = "https://api.spotify.com/v1/"
SPOTIFY_TOKEN_URL = "https://accounts.spotify.com/api/token"
# SPOTIPY_* are spotipy's (and savify's) own names, accepted as a fallback.
SPOTIFY_ENV_VARS = CREDENTIAL_ENV_VARS["spotify"]
MAX_SEARCH_LIMIT = 50
_HTTP_TOO_MANY_REQUESTS = 429
_HTTP_SERVER_ERROR = 500


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ParameterError(f"{name} must be an http(s) URL, got {url!r}")


class SpotifyClient:
    """Raw-JSON Spotify search client; one :meth:`search_tracks` is one search request
    (plus a token request when the cached token is missing or expired)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        api_root: str = SPOTIFY_API_ROOT,
        token_url: str = SPOTIFY_TOKEN_URL,
        timeout_s: float = 10.0,
    ) -> None:
        if timeout_s <= 0:
            raise ParameterError(f"timeout_s must be > 0, got {timeout_s!r}")
        _check_url("api_root", api_root)
        _check_url("token_url", token_url)
        # The Basic authorisation of the token request, however a library happens to show it.
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        protect_secrets(client_id, client_secret, basic)
        self.api_root = api_root if api_root.endswith("/") else f"{api_root}/"
        self._credentials = (client_id, client_secret)
        self._last = threading.local()
        session = requests.Session()
        session.hooks["response"].append(self._remember)
        auth = spotipy.SpotifyClientCredentials(
            client_id=client_id,
            client_secret=client_secret,
            requests_session=session,
            requests_timeout=timeout_s,
            cache_handler=MemoryCacheHandler(),
        )
        auth.OAUTH_TOKEN_URL = token_url
        self._spotify = spotipy.Spotify(
            auth_manager=auth, requests_session=session, requests_timeout=timeout_s
        )
        self._spotify.prefix = self.api_root
        self._session = session

    def __repr__(self) -> str:
        return f"SpotifyClient(api_root={self.api_root!r})"

    @property
    def credentials(self) -> tuple[str, str]:
        """``(client_id, client_secret)``, for tools that talk to Spotify themselves (savify)."""
        return self._credentials

    def close(self) -> None:
        self._session.close()

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.response = response

    def _last_status(self) -> int | None:
        response = getattr(self._last, "response", None)
        return None if response is None else response.status_code

    def search_tracks(self, query: str, *, limit: int = 10, market: str | None = None) -> bytes:
        """``GET /search?type=track`` body: ``{"tracks": {"items": [...], ...}}``."""
        if not 1 <= limit <= MAX_SEARCH_LIMIT:
            raise ParameterError(f"limit must be in [1, {MAX_SEARCH_LIMIT}], got {limit!r}")
        self._last.response = None
        try:
            result = self._spotify.search(q=query, limit=limit, type="track", market=market)
        except spotipy.SpotifyException as error:
            raise _classify_api_error(error) from error
        except spotipy.SpotifyOauthError as error:
            raise self._classify_token_error(error) from error
        except requests.Timeout as error:
            raise RetryableFetchError("timeout", redact(str(error))) from error
        except requests.ConnectionError as error:
            raise RetryableFetchError("connection_error", redact(str(error))) from error
        except ValueError as error:  # an unreadable token answer
            raise FetchError("malformed_json", f"token answer: {redact(str(error))}") from error
        if result is None:  # spotipy turns an unreadable body into None
            raise FetchError("malformed_json", "the search answer is not valid JSON")
        return self._last.response.content

    def _classify_token_error(self, error: spotipy.SpotifyOauthError) -> Exception:
        status = self._last_status()
        if status == _HTTP_TOO_MANY_REQUESTS or (status or 0) >= _HTTP_SERVER_ERROR:
            return RetryableFetchError(f"token_http_{status}", redact(str(error)))
        # Rejected credentials: every further request would fail the same way.
        return PrerequisiteError(f"Spotify rejected the client credentials ({redact(str(error))})")


def _classify_api_error(error: spotipy.SpotifyException) -> FetchError:
    status = error.http_status
    detail = redact(str(error.msg))[:300]
    if status == _HTTP_TOO_MANY_REQUESTS:
        retry_after = parse_retry_after((error.headers or {}).get("Retry-After"))
        return RetryableFetchError("http_429", detail, retry_after_s=retry_after)
    if status >= _HTTP_SERVER_ERROR:
        return RetryableFetchError(f"http_{status}", detail)
    return FetchError(f"http_{status}", detail)


class SpotifyClientDataset(AbstractDataset[None, SpotifyClient]):
    """Kedro dataset whose ``load`` returns a configured :class:`SpotifyClient`.

    ``credentials`` (``client_id``, ``client_secret``) come from
    ``conf/local/credentials.yml``; fields left empty fall back to ``SPOTIFY_CLIENT_ID`` /
    ``SPOTIFY_CLIENT_SECRET`` (or spotipy's ``SPOTIPY_*``). Missing ones fail at ``load``::

        spotify_client:
          type: soundtrack_emotion.datasets.SpotifyClientDataset
          credentials: spotify
          api_root: https://api.spotify.com/v1/
          token_url: https://accounts.spotify.com/api/token
    """

    def __init__(
        self,
        *,
        credentials: dict[str, Any] | None = None,
        api_root: str = SPOTIFY_API_ROOT,
        token_url: str = SPOTIFY_TOKEN_URL,
        timeout_s: float = 10.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._credentials = dict(credentials or {})
        self._api_root = api_root
        self._token_url = token_url
        self._timeout_s = timeout_s
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"api_root": self._api_root, "token_url": self._token_url}

    def load(self) -> SpotifyClient:
        credentials = resolve_credentials(
            self._credentials, SPOTIFY_ENV_VARS, service="Spotify", key="spotify"
        )
        return SpotifyClient(
            **credentials,
            api_root=self._api_root,
            token_url=self._token_url,
            timeout_s=self._timeout_s,
        )

    def save(self, data: None) -> None:
        raise DatasetError(f"{self} is a read-only API client")
