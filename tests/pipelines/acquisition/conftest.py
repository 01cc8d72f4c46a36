"""Loopback fakes of the Last.fm and Spotify web APIs, and fixtures that start them.

The fakes answer the way the real services do (checked against recorded real answers in
``test_fake_fidelity.py``): Last.fm ``/2.0/`` takes GET or form POST, answers compact UTF-8
JSON (``tag.getTopTracks`` attributes as strings, tag counts as numbers), errors as
``{"error": N, "message": ...}``, an unknown track as 200 with an empty tag list; Spotify's
accounts service issues client-credentials tokens and ``/v1/search`` answers pretty-printed
JSON with full track objects. Each server records every request and can be scripted to fail
(rate limits with ``Retry-After``, 5xx, time-outs, malformed JSON, dropped connections).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from soundtrack_emotion.core.matching import normalise_name
from soundtrack_emotion.datasets.lastfm_client import LastfmClient
from soundtrack_emotion.datasets.raw_layer import RawLayer
from soundtrack_emotion.datasets.spotify_client import SpotifyClient
from soundtrack_emotion.pipelines.acquisition.nodes import (
    crawl_tag_top_tracks,
    crawl_track_top_tags,
    download_audio,
    plan_acquisition,
    report_acquisition,
    search_spotify,
)

LASTFM_KEY = "lfm-key-5f3c9a1e7b"
LASTFM_SECRET = "lfm-secret-0d8e2b4f6a"
SPOTIFY_ID = "sp-client-7c1e9b3d5f"
SPOTIFY_SECRET = "sp-secret-2a4c6e8b0d"
SECRETS = (LASTFM_KEY, LASTFM_SECRET, SPOTIFY_ID, SPOTIFY_SECRET)

# Fault names a test can script (see FakeServer.fail).
FAULTS = (
    "rate_limit_200",  # HTTP 200 carrying an error body (Last.fm: error 29)
    "rate_limit_429",  # HTTP 429 with Retry-After
    "http_500",
    "http_503",
    "timeout",  # answers only after the client has given up
    "malformed",  # HTTP 200, truncated JSON
    "bad_shape",  # HTTP 200, valid JSON without the expected fields
    "reset",  # closes the connection without an answer
    "service_error",  # Last.fm error 8 "Operation failed" in HTTP 200 (a temporary error)
    "invalid_params",  # Last.fm error 6 with HTTP 400 (a permanent error)
)


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    at: float


@dataclass
class _Script:
    path_suffix: str
    match: dict[str, str]
    faults: deque[str]


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """A threaded HTTP server on 127.0.0.1:<free port>; subclasses implement ``answer``."""

    content_type = "application/json; charset=UTF-8"
    retry_after = "1"
    slow_s = 0.6  # how long a "timeout" fault stalls; tests use client time-outs of ~0.25 s

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.sent: list[bytes] = []  # every answer body, in order
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: a stopped server is gone

            def do_GET(self) -> None:
                fake._handle(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake._handle(self, self.rfile.read(length))

            def log_message(self, *args: Any) -> None:
                return None

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def fail(self, path_suffix: str, *faults: str, **match: str) -> None:
        """The next requests to a path ending in ``path_suffix`` whose parameters include
        ``match`` get ``faults``, one per request, then normal answers again."""
        unknown = set(faults) - set(FAULTS)
        assert not unknown, f"unknown faults {unknown}"
        with self._lock:
            self._scripts.append(_Script(path_suffix, dict(match), deque(faults)))

    def count(self, path_suffix: str = "", **match: str) -> int:
        """Requests so far to ``path_suffix`` whose parameters include ``match``."""
        return sum(
            1
            for r in self.requests
            if r.path.endswith(path_suffix) and all(r.params.get(k) == v for k, v in match.items())
        )

    def _next_fault(self, path: str, params: Mapping[str, str]) -> str | None:
        with self._lock:
            for script in self._scripts:
                if (
                    script.faults
                    and path.endswith(script.path_suffix)
                    and all(params.get(k) == v for k, v in script.match.items())
                ):
                    return script.faults.popleft()
        return None

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        parts = urlsplit(handler.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if body and "form-urlencoded" in (handler.headers.get("Content-Type") or ""):
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        with self._lock:
            self.requests.append(
                Recorded(handler.command, parts.path, params, dict(handler.headers), time.time())
            )
        fault = self._next_fault(parts.path, params)
        if fault == "reset":
            handler.close_connection = True
            handler.connection.close()
            return
        if fault == "timeout":
            time.sleep(self.slow_s)
            fault = None
        reply = self.fault_reply(fault, parts.path) if fault else None
        if reply is None:
            reply = self.answer(handler.command, parts.path, params, handler.headers)
        with self._lock:
            self.sent.append(reply.body)
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", self.content_type)
            handler.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:  # the client gave up (time-out fault)
            pass

    def fault_reply(self, fault: str, path: str) -> Reply | None:
        if fault in ("http_500", "http_503"):
            status = int(fault[-3:])
            page = f"<html><body><h1>{status} Server Error</h1></body></html>".encode()
            return Reply(status, page)
        if fault == "malformed":
            return Reply(200, b'{"tracks":{"track":[{"name":"Cut off in the midd')
        return None

    def answer(
        self, method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        raise NotImplementedError


def _compact(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class LastfmTrack:
    artist: str
    name: str
    duration_s: int = 0
    mbid: str = ""
    artist_mbid: str = ""
    image_id: str = ""
    tags: tuple[tuple[str, int], ...] = ()


class FakeLastfm(FakeServer):
    """``/2.0/`` with ``tag.getTopTracks`` and ``track.getTopTags``."""

    image_root = "https://lastfm.freetls.fastly.net/i/u"

    def __init__(self, *, api_key: str, charts: Mapping[str, Sequence[LastfmTrack]]) -> None:
        super().__init__()
        self.api_key = api_key
        self.charts_by_name = dict(charts)
        self.charts = {tag.casefold(): (tag, list(tracks)) for tag, tracks in charts.items()}
        self._by_name: dict[tuple[str, str], LastfmTrack] = {}
        for tracks in charts.values():
            for t in tracks:  # a track listed twice keeps its first entry
                self._by_name.setdefault((normalise_name(t.artist), normalise_name(t.name)), t)

    @property
    def api_root(self) -> str:
        return f"{self.url}/2.0/"

    @staticmethod
    def error(status: int, code: int, message: str) -> Reply:
        return Reply(status, _compact({"error": code, "message": message}))

    def fault_reply(self, fault: str, path: str) -> Reply | None:
        limit_message = "Rate Limit Exceeded - Your IP has made too many requests in a short period"
        if fault == "rate_limit_200":
            return self.error(200, 29, limit_message)
        if fault == "rate_limit_429":
            reply = self.error(429, 29, limit_message)
            reply.headers["Retry-After"] = self.retry_after
            return reply
        if fault == "service_error":
            message = "Operation failed - Most likely the backend service failed. Please try again."
            return self.error(200, 8, message)
        if fault == "invalid_params":
            return self.error(
                400, 6, "Invalid parameters - Your request is missing a required parameter"
            )
        if fault == "bad_shape":
            return Reply(200, _compact({"tracks": {"@attr": {}}, "toptags": {"@attr": {}}}))
        return super().fault_reply(fault, path)

    def answer(
        self, method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        if path != "/2.0/":
            return Reply(404, b"<html><body>Not Found</body></html>")
        if params.get("api_key") != self.api_key:
            return self.error(
                403, 10, "Invalid API key - You must be granted a valid key by last.fm"
            )
        api_method = params.get("method", "").casefold()
        if api_method == "tag.gettoptracks":
            return self._top_tracks(params)
        if api_method == "track.gettoptags":
            return self._top_tags(params)
        return self.error(400, 3, "Invalid Method - No method with that name in this package")

    def track_entry(self, track: LastfmTrack, rank: int) -> dict[str, Any]:
        image_id = track.image_id or hashlib.md5(track.name.encode()).hexdigest()
        return {
            "name": track.name,
            "duration": str(track.duration_s),
            "mbid": track.mbid,
            "url": f"https://www.last.fm/music/{quote_plus(track.artist)}/_/{quote_plus(track.name)}",
            "streamable": {"#text": "0", "fulltrack": "0"},
            "artist": {
                "name": track.artist,
                "mbid": track.artist_mbid,
                "url": f"https://www.last.fm/music/{quote_plus(track.artist)}",
            },
            "image": [
                {"#text": f"{self.image_root}/{size}/{image_id}.png", "size": name}
                for size, name in (
                    ("34s", "small"),
                    ("64s", "medium"),
                    ("174s", "large"),
                    ("300x300", "extralarge"),
                )
            ],
            "@attr": {"rank": str(rank)},
        }

    def _top_tracks(self, params: Mapping[str, str]) -> Reply:
        if not params.get("tag"):
            return self.error(
                400, 6, "Invalid parameters - Your request is missing a required parameter"
            )
        limit, page = int(params.get("limit", 50)), int(params.get("page", 1))
        tag, tracks = self.charts.get(params["tag"].casefold(), (params["tag"], []))
        start = (page - 1) * limit
        entries = [
            self.track_entry(t, start + i + 1) for i, t in enumerate(tracks[start : start + limit])
        ]
        attr = {
            "tag": tag,
            "page": str(page),
            "perPage": str(limit),
            "totalPages": str(-(-len(tracks) // limit)),
            "total": str(len(tracks)),
        }
        return Reply(200, _compact({"tracks": {"track": entries, "@attr": attr}}))

    def _top_tags(self, params: Mapping[str, str]) -> Reply:
        artist, title = params.get("artist", ""), params.get("track", "")
        if not artist or not title:
            return self.error(
                400, 6, "Invalid parameters - Your request is missing a required parameter"
            )
        track = self._by_name.get((normalise_name(artist), normalise_name(title)))
        tags = [
            {"count": count, "name": name, "url": f"https://www.last.fm/tag/{quote_plus(name)}"}
            for name, count in (track.tags if track else ())
        ]
        attr = {
            "artist": track.artist if track else artist,
            "track": track.name if track else title,
        }
        return Reply(200, _compact({"toptags": {"tag": tags, "@attr": attr}}))


@dataclass(frozen=True)
class SpotifyTrack:
    id: str
    name: str
    artists: tuple[str, ...]
    duration_ms: int
    popularity: int = 50
    album: str = "Original Motion Picture Soundtrack"


def _spotify_id(text: str) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    return "".join(alphabet[(number >> (6 * i)) % 62] for i in range(22))


class FakeSpotify(FakeServer):
    """Accounts ``/api/token`` (client credentials) and Web API ``/v1/search``."""

    public_root = "https://api.spotify.com/v1"

    def __init__(
        self, *, client_id: str, client_secret: str, catalogue: Sequence[SpotifyTrack]
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.catalogue = list(catalogue)
        self.tokens: set[str] = set()

    @property
    def api_root(self) -> str:
        return f"{self.url}/v1/"

    @property
    def token_url(self) -> str:
        return f"{self.url}/api/token"

    @staticmethod
    def pretty(body: Any) -> bytes:
        return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")

    def api_error(self, status: int, message: str) -> Reply:
        return Reply(status, self.pretty({"error": {"status": status, "message": message}}))

    def fault_reply(self, fault: str, path: str) -> Reply | None:
        if fault in ("rate_limit_429", "rate_limit_200"):
            reply = self.api_error(429, "API rate limit exceeded")
            reply.headers["Retry-After"] = self.retry_after
            return reply
        if fault == "bad_shape":
            return Reply(200, self.pretty({"albums": {"items": []}}))
        return super().fault_reply(fault, path)

    def answer(
        self, method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        if path == "/api/token" and method == "POST":
            return self._token(params, headers)
        if path == "/v1/search" and method == "GET":
            return self._search(params, headers)
        return self.api_error(404, "Service not found")

    def _token(self, params: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return Reply(
                400, _compact({"error": "invalid_client", "error_description": "Invalid client"})
            )
        if params.get("grant_type") != "client_credentials":
            return Reply(
                400,
                _compact(
                    {
                        "error": "unsupported_grant_type",
                        "error_description": "grant_type parameter is missing",
                    }
                ),
            )
        token = f"BQ{hashlib.sha1(str(len(self.tokens)).encode()).hexdigest()}"
        self.tokens.add(token)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        return Reply(200, _compact(body))

    def item(self, track: SpotifyTrack) -> dict[str, Any]:
        root = self.public_root
        artists = [
            {
                "external_urls": {"spotify": f"https://open.spotify.com/artist/{_spotify_id(a)}"},
                "href": f"{root}/artists/{_spotify_id(a)}",
                "id": _spotify_id(a),
                "name": a,
                "type": "artist",
                "uri": f"spotify:artist:{_spotify_id(a)}",
            }
            for a in track.artists
        ]
        album_id = _spotify_id(track.album + track.artists[0])
        return {
            "album": {
                "album_type": "album",
                "artists": artists,
                "available_markets": ["DE", "ES", "GB", "US"],
                "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"},
                "href": f"{root}/albums/{album_id}",
                "id": album_id,
                "images": [
                    {
                        "height": size,
                        "url": f"https://i.scdn.co/image/{album_id}{size}",
                        "width": size,
                    }
                    for size in (640, 300, 64)
                ],
                "name": track.album,
                "release_date": "2004",
                "release_date_precision": "year",
                "total_tracks": 14,
                "type": "album",
                "uri": f"spotify:album:{album_id}",
            },
            "artists": artists,
            "available_markets": ["DE", "ES", "GB", "US"],
            "disc_number": 1,
            "duration_ms": track.duration_ms,
            "explicit": False,
            "external_ids": {"isrc": f"USXX1{int(_spotify_id(track.id), 36) % 10**7:07d}"},
            "external_urls": {"spotify": f"https://open.spotify.com/track/{track.id}"},
            "href": f"{root}/tracks/{track.id}",
            "id": track.id,
            "is_local": False,
            "name": track.name,
            "popularity": track.popularity,
            "preview_url": None,
            "track_number": 1,
            "type": "track",
            "uri": f"spotify:track:{track.id}",
        }

    def _search(self, params: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        token = (headers.get("Authorization") or "").removeprefix("Bearer ")
        if token not in self.tokens:
            return self.api_error(401, "Invalid access token")
        query = params.get("q", "")
        if not query:
            return self.api_error(400, "No search query")
        if "track" not in params.get("type", "").split(","):
            return self.api_error(400, "Bad search type field")
        limit, offset = int(params.get("limit", 20)), int(params.get("offset", 0))
        if not 0 <= limit <= 50:
            return self.api_error(400, "Invalid limit")
        words = set(normalise_name(re.sub(r"\b(track|artist):", " ", query)).split())
        scored = []
        for track in self.catalogue:
            have = set(normalise_name(" ".join((track.name, *track.artists))).split())
            overlap = len(words & have) / max(1, len(words))
            if overlap >= 0.5:
                scored.append(track)
        # Popular tracks first, as Spotify tends to rank them: a cover may beat the original.
        scored.sort(key=lambda t: -t.popularity)
        page = scored[offset : offset + limit]

        def link(at: int) -> str:
            query_string = urlencode(
                {"query": query, "type": "track", "offset": at, "limit": limit}
            )
            return f"{self.public_root}/search?{query_string}"

        body = {
            "tracks": {
                "href": link(offset),
                "items": [self.item(t) for t in page],
                "limit": limit,
                "next": link(offset + limit) if offset + limit < len(scored) else None,
                "offset": offset,
                "previous": link(max(0, offset - limit)) if offset else None,
                "total": len(scored),
            }
        }
        return Reply(200, self.pretty(body))


# ---------------------------------------------------------------------------------- the corpus
# A small "soundtrack" chart over 3 pages of 4 (the last one short), with a duplicate listing,
# an unknown-to-Spotify track, a track without tags, a cover that outranks its original, and
# names that need the thesis's query cleaning.
CHART = (
    LastfmTrack("Skeeter Davis", "The End of the World", 153, tags=(("sad", 100), ("lost", 60))),
    LastfmTrack("Mandy Moore", "Only Hope", 233, tags=(("love", 100), ("romantic", 40))),
    LastfmTrack("The Cardigans", "Lovefool", 194, tags=(("happy", 100), ("90s", 30))),
    LastfmTrack("Carly Simon", "Nobody Does It Better", 211, tags=(("calm", 100),)),
    LastfmTrack("Breaking Benjamin", "Blow Me Away", 212, tags=(("angry", 100), ("rock", 80))),
    LastfmTrack(
        "Jake Bugg", "Simple as This", 199, tags=(("cool", 56), ("nice", 12), ("study", 12))
    ),
    LastfmTrack("Simon & Garfunkel", "The Sound of Silence (Live)", 185, tags=(("calm", 70),)),
    LastfmTrack("Obscure Orchestra", "Untagged Cue", 95),
    LastfmTrack("Nobody On Spotify", "Lost Reel", 120, tags=(("dark", 100),)),
    LastfmTrack("Hans Zimmer", "Time - Inception Suite", 275, tags=(("epic", 100), ("sad", 20))),
    LastfmTrack("SKEETER DAVIS", "THE END OF THE WORLD", 153),  # listed twice, in capitals
)
CATALOGUE = (
    SpotifyTrack(_spotify_id("skeeter"), "The End of the World", ("Skeeter Davis",), 153000, 60),
    SpotifyTrack(
        _spotify_id("karaoke"), "The End of the World (Karaoke Version)", ("Hit Crew",), 150000, 80
    ),
    SpotifyTrack(_spotify_id("mandy"), "Only Hope", ("Mandy Moore",), 233000, 70),
    SpotifyTrack(_spotify_id("cardigans"), "Lovefool", ("The Cardigans",), 194000, 75),
    SpotifyTrack(_spotify_id("carly"), "Nobody Does It Better", ("Carly Simon",), 211000, 55),
    SpotifyTrack(_spotify_id("benjamin"), "Blow Me Away", ("Breaking Benjamin",), 212000, 65),
    SpotifyTrack(_spotify_id("bugg"), "Simple As This", ("Jake Bugg",), 199453, 50),
    SpotifyTrack(_spotify_id("simon"), "The Sound of Silence", ("Simon & Garfunkel",), 185000, 82),
    SpotifyTrack(_spotify_id("obscure"), "Untagged Cue", ("Obscure Orchestra",), 95000, 5),
    SpotifyTrack(_spotify_id("zimmer"), "Time", ("Hans Zimmer",), 275000, 77),
)
PAGE_SIZE = 4


@pytest.fixture
def fake_lastfm() -> Iterator[FakeLastfm]:
    server = FakeLastfm(api_key=LASTFM_KEY, charts={"soundtrack": CHART}).start()
    yield server
    server.stop()


@pytest.fixture
def fake_spotify() -> Iterator[FakeSpotify]:
    server = FakeSpotify(
        client_id=SPOTIFY_ID, client_secret=SPOTIFY_SECRET, catalogue=CATALOGUE
    ).start()
    yield server
    server.stop()


CLIENT_TIMEOUT_S = 0.25


@pytest.fixture
def lastfm_client(fake_lastfm: FakeLastfm) -> Iterator[LastfmClient]:
    client = LastfmClient(
        api_key=LASTFM_KEY,
        api_secret=LASTFM_SECRET,
        api_root=fake_lastfm.api_root,
        timeout_s=CLIENT_TIMEOUT_S,
    )
    yield client
    client.close()


@pytest.fixture
def spotify_client(fake_spotify: FakeSpotify) -> Iterator[SpotifyClient]:
    client = SpotifyClient(
        client_id=SPOTIFY_ID,
        client_secret=SPOTIFY_SECRET,
        api_root=fake_spotify.api_root,
        token_url=fake_spotify.token_url,
        timeout_s=CLIENT_TIMEOUT_S,
    )
    yield client
    client.close()


def write_tone(path: Path, *, seconds: float = 1.0, sample_rate: int = 22050) -> Path:
    """A short sine tone, written by soundfile in the format of ``path``'s extension."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone, sample_rate)
    return path


@pytest.fixture
def audio_library(tmp_path: Path) -> Path:
    """The user's own audio folder: files named by Spotify id or by "Artist - Title"."""
    folder = tmp_path / "library"
    write_tone(folder / f"{_spotify_id('skeeter')}.wav")
    write_tone(folder / "Mandy Moore - Only Hope.flac")
    write_tone(folder / "nested" / "the cardigans - LOVEFOOL.ogg")
    write_tone(folder / "Carly Simon - Nobody Does It Better (Remastered).wav")
    write_tone(folder / "Jake Bugg - Simple as This.wav")
    write_tone(folder / "Simon & Garfunkel - The Sound of Silence.wav")
    write_tone(folder / "Hans Zimmer - Time.wav")
    (folder / "notes.txt").write_text("not audio")
    return folder  # Breaking Benjamin is missing on purpose


def crawl_parameters(library: Path, **overrides: Any) -> dict[str, Any]:
    """``acquisition`` parameters for the loopback corpus with millisecond back-offs."""
    params: dict[str, Any] = {
        "lastfm": {
            "tags": ["soundtrack"],
            "max_tracks": None,
            "page_size": PAGE_SIZE,
            "requests_per_second": 500.0,
        },
        "spotify": {"search_limit": 5, "market": None, "requests_per_second": 500.0},
        "retry": {
            "max_tries": 4,
            "backoff_initial_s": 0.001,
            "backoff_max_s": 0.005,
            "jitter": 0.5,
            "max_retry_after_s": 5.0,
        },
        "downloader": {"backend": "local", "local": {"folder": str(library)}},
        "progress_bar": False,
    }
    for section, values in overrides.items():
        if isinstance(values, Mapping) and isinstance(params.get(section), dict):
            params[section] = {**params[section], **values}
        else:
            params[section] = values
    return params


def tree_bytes(root: Path) -> dict[str, bytes]:
    """``{relative path: content}`` of every file under ``root``."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass
class Crawl:
    tracks: pd.DataFrame
    matches: pd.DataFrame
    report: pd.DataFrame

    def outcome(self, stage: str, item: str) -> dict:
        rows = self.report[(self.report["stage"] == stage) & (self.report["item"] == item)]
        assert len(rows) == 1, (stage, item, rows)
        return rows.iloc[0].to_dict()

    def statuses(self, stage: str) -> dict[str, int]:
        return self.report[self.report["stage"] == stage]["status"].value_counts().to_dict()


def raw_layer_at(raw: Path) -> RawLayer:
    """A raw layer under ``raw``, laid out as conf/base lays out data/01_raw (the crawl's
    tests name its files by their path below ``raw``)."""
    return RawLayer(
        tag_pages=raw / "lastfm/tag_top_tracks",
        top_tags=raw / "lastfm/track_top_tags",
        search=raw / "spotify/search",
        audio=raw / "audio",
        lexicon=raw / "lexicon/demo_vad_lexicon.txt",
        ground_truth=raw / "demo_ground_truth.csv",
    )


def run_crawl(lastfm_client, spotify_client, raw: Path, params: dict) -> Crawl:
    """The acquisition nodes in pipeline order."""
    layer = raw_layer_at(raw)
    plan = plan_acquisition(lastfm_client, spotify_client, layer, params)
    tracks, pages = crawl_tag_top_tracks(lastfm_client, layer, plan)
    counts, tags = crawl_track_top_tags(lastfm_client, layer, tracks, plan)
    matches, searches = search_spotify(
        spotify_client, layer, tracks, counts, match_threshold=0.6, plan=plan
    )
    audio = download_audio(spotify_client, layer, tracks, matches, plan)
    return Crawl(tracks, matches, report_acquisition(pages, tags, searches, audio))
