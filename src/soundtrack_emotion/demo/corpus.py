"""Plan and write the demo corpus: the raw layer exactly as the acquisition crawl writes it.

``plan_corpus`` decides everything (names, latent VAD, tags, Spotify answers, audio format)
from one seed; ``build_demo_corpus`` writes it where the catalog's raw entries are
(:class:`~soundtrack_emotion.datasets.raw_layer.RawLayer`)::

    tag_pages/soundtrack/page-NNNN.json   tag.getTopTracks bodies
    top_tags/<track_id>.json              track.getTopTags bodies
    search/<track_id>.json                Spotify search bodies
    audio/<track_id>.<wav|flac|ogg|mp3>   the rendered audio
    lexicon                               NRC-VAD v1 format, own values
    ground_truth                          id, valence, arousal, dominance

Files are first written to a scratch folder next to their destination and moved in with
``os.replace``, the tag pages last, so an interrupted build never looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import string
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import astuple, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import numpy as np

from soundtrack_emotion.core.matching import clean_query, make_track_id
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets.raw_layer import RawLayer
from soundtrack_emotion.demo.audio_files import write_audio
from soundtrack_emotion.demo.lexicon import write_demo_lexicon
from soundtrack_emotion.demo.names import artist_name, track_title
from soundtrack_emotion.demo.synthesis import render_soundtrack
from soundtrack_emotion.demo.tags import CRAWL_TAG, non_mood_tags, top_tags
from soundtrack_emotion.exceptions import ParameterError

# (extension, libsndfile subtype); every format x rate x channel count occurs every 24 tracks
# (MP3 at 44.1 and 48 kHz only, see MP3_SAMPLE_RATE_FALLBACK).
AUDIO_FORMATS = (
    ("wav", "PCM_16"),
    ("flac", "PCM_16"),
    ("ogg", "VORBIS"),
    ("mp3", "MPEG_LAYER_III"),
)
SAMPLE_RATES = (22050, 44100, 48000)
# libsndfile's MPEG-2 Layer III encoder (22.05 kHz) writes frames that libmpg123 reports as
# damaged ("part2_3_length too large"), so demo MP3s at 22.05 kHz are written at 44.1 kHz.
MP3_SAMPLE_RATE_FALLBACK = {22050: 44100}
SHORT_CLIP_SECONDS = 3.0
LATENT_RANGE = (0.06, 0.94)


class BadEntry:
    """The deliberately broken tracks every demo contains, and the one duplicate listing."""

    NO_TAGS = "no_tags"  # track.getTopTags answers an empty tag list
    NO_MOOD_TAGS = "no_mood_tags"  # only genre and non-lexicon tags
    ZERO_COUNTS = "zero_tag_counts"  # every tag count is 0
    NO_SPOTIFY_MATCH = "no_spotify_match"  # the search finds only other tracks
    MISSING_AUDIO = "missing_audio"  # no audio file
    CORRUPT_AUDIO = "corrupt_audio"  # a file that is not decodable audio
    SHORT_CLIP = "short_clip"  # a 3-second file

    ALL = (
        NO_TAGS,
        NO_MOOD_TAGS,
        ZERO_COUNTS,
        NO_SPOTIFY_MATCH,
        MISSING_AUDIO,
        CORRUPT_AUDIO,
        SHORT_CLIP,
    )


@dataclass(frozen=True)
class DemoConfig:
    """What to generate; mirrors the ``demo`` section of ``conf/base/parameters.yml``."""

    seed: int = 2024
    n_tracks: int = 160
    min_seconds: float = 20.0
    max_seconds: float = 45.0
    min_tracks_per_artist: int = 3
    max_tracks_per_artist: int = 7
    page_size: int = 50
    bad_entries: bool = True
    workers: int = 1

    def __post_init__(self) -> None:
        if self.n_tracks < 1:
            raise ParameterError(f"n_tracks must be >= 1, got {self.n_tracks!r}")
        if not 0 < self.min_seconds <= self.max_seconds:
            raise ParameterError(
                f"need 0 < min_seconds <= max_seconds, got {self.min_seconds!r}, "
                f"{self.max_seconds!r}"
            )
        if not 1 <= self.min_tracks_per_artist <= self.max_tracks_per_artist:
            raise ParameterError(
                "need 1 <= min_tracks_per_artist <= max_tracks_per_artist, got "
                f"{self.min_tracks_per_artist!r}, {self.max_tracks_per_artist!r}"
            )
        if self.page_size < 1:
            raise ParameterError(f"page_size must be >= 1, got {self.page_size!r}")
        if self.workers < 1:
            raise ParameterError(f"workers must be >= 1, got {self.workers!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DemoConfig:
        """Build from the ``demo`` parameters (``enabled`` is the hook's business)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(params) - known - {"enabled"}
        if unknown:
            raise ParameterError(f"unknown demo parameters: {sorted(unknown)}")
        return cls(**{k: v for k, v in params.items() if k in known})


@dataclass(frozen=True)
class DemoTrack:
    """Everything about one demo track: identity, hidden VAD, tags, Spotify answer, audio."""

    track_id: str
    artist: str
    title: str
    latent: tuple[float, float, float]
    seconds: float
    render_seed: int
    extension: str
    subtype: str
    sample_rate: int
    channels: int
    tags: tuple[tuple[str, int], ...]
    spotify_items: tuple[dict[str, Any], ...]
    bad: str | None = None
    spotify_duration_ms: int = 0


def _spotify_id(*parts: str) -> str:
    """A stable 22-character base62 id, the shape of a Spotify id."""
    alphabet = string.digits + string.ascii_letters
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:17], "big")
    chars = []
    for _ in range(22):
        number, rem = divmod(number, 62)
        chars.append(alphabet[rem])
    return "".join(chars)


def _spotify_item(title: str, artist: str, duration_ms: int, popularity: int) -> dict[str, Any]:
    """One ``tracks.items[]`` entry with the fields the Search API returns."""
    track_id = _spotify_id("track", artist, title)
    album_id = _spotify_id("album", artist)
    artists = [
        {
            "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist_id}"},
            "href": f"https://api.spotify.com/v1/artists/{artist_id}",
            "id": artist_id,
            "name": name,
            "type": "artist",
            "uri": f"spotify:artist:{artist_id}",
        }
        for name in [artist]
        for artist_id in [_spotify_id("artist", name)]
    ]
    return {
        "album": {
            "album_type": "album",
            "artists": artists,
            "available_markets": ["DE", "ES", "GB", "SE", "US"],
            "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"},
            "href": f"https://api.spotify.com/v1/albums/{album_id}",
            "id": album_id,
            "images": [],
            "name": f"{artist} (Original Motion Picture Soundtrack)",
            "release_date": "2019",
            "release_date_precision": "year",
            "total_tracks": 14,
            "type": "album",
            "uri": f"spotify:album:{album_id}",
        },
        "artists": artists,
        "available_markets": ["DE", "ES", "GB", "SE", "US"],
        "disc_number": 1,
        "duration_ms": duration_ms,
        "explicit": False,
        "external_ids": {"isrc": f"XX{track_id[:10].upper()}"},
        "external_urls": {"spotify": f"https://open.spotify.com/track/{track_id}"},
        "href": f"https://api.spotify.com/v1/tracks/{track_id}",
        "id": track_id,
        "is_local": False,
        "name": title,
        "popularity": popularity,
        "preview_url": None,
        "track_number": 1 + int(track_id[-1], 36) % 14,
        "type": "track",
        "uri": f"spotify:track:{track_id}",
    }


def _search_items(
    track: tuple[str, str],
    duration_ms: int,
    others: Sequence[tuple[str, str]],
    rng: np.random.Generator,
    *,
    include_match: bool,
) -> tuple[dict[str, Any], ...]:
    """A search answer: the right track (if any) among decoys, in Spotify's own order."""
    title, artist = track
    items = []
    if include_match:
        shown = clean_query(title) if rng.random() < 0.5 else title
        if rng.random() < 0.3:
            shown = f"{shown} - Remastered {int(rng.integers(2005, 2024))}"
        items.append(_spotify_item(shown, artist, duration_ms, int(rng.integers(10, 80))))
    # Decoys: a cover of the same title by another artist, other tracks by others.
    others = list(others) or [("Untitled Cue", "Various Artists")]
    decoy_titles = [(title, others[0][1])] + [tuple(o) for o in others[1:]]
    for decoy_title, decoy_artist in decoy_titles:
        items.append(
            _spotify_item(
                decoy_title,
                decoy_artist,
                int(rng.integers(60_000, 300_000)),
                int(rng.integers(0, 90)),
            )
        )
    order = rng.permutation(len(items))
    return tuple(items[i] for i in order)


def plan_corpus(config: DemoConfig) -> list[DemoTrack]:
    """Every demo track, in Last.fm rank order (bad entries spread among the good ones)."""
    rng = np.random.default_rng(config.seed)
    n_bad = len(BadEntry.ALL) if config.bad_entries else 0
    n_total = config.n_tracks + n_bad
    names: list[tuple[str, str]] = []
    seen_ids: set[str] = set()
    seen_artists: set[str] = set()
    while len(names) < n_total:
        artist = artist_name(rng)
        if artist in seen_artists:
            continue
        seen_artists.add(artist)
        per_artist = int(
            rng.integers(config.min_tracks_per_artist, config.max_tracks_per_artist + 1)
        )
        for _ in range(min(per_artist, n_total - len(names))):
            for _attempt in range(50):
                title = track_title(rng)
                track_id = make_track_id(artist, title)
                if track_id not in seen_ids:
                    seen_ids.add(track_id)
                    names.append((title, artist))
                    break
    order = rng.permutation(n_total)
    names = [names[i] for i in order]
    bad_slots = dict(
        zip(
            (int(i) for i in rng.choice(n_total, size=n_bad, replace=False)),
            BadEntry.ALL[:n_bad],
            strict=True,
        )
    )

    tracks = []
    for index, (title, artist) in enumerate(names):
        bad = bad_slots.get(index)
        latent = rng.uniform(*LATENT_RANGE, size=3)
        seconds = round(float(rng.uniform(config.min_seconds, config.max_seconds)), 2)
        extension, subtype = AUDIO_FORMATS[index % len(AUDIO_FORMATS)]
        sample_rate = SAMPLE_RATES[(index // len(AUDIO_FORMATS)) % len(SAMPLE_RATES)]
        if extension == "mp3":
            sample_rate = MP3_SAMPLE_RATE_FALLBACK.get(sample_rate, sample_rate)
        channels = 1 + (index // (len(AUDIO_FORMATS) * len(SAMPLE_RATES))) % 2
        duration_ms = round(seconds * 1000)
        if bad == BadEntry.SHORT_CLIP:
            seconds = SHORT_CLIP_SECONDS  # a preview-length file for a full-length track
        if bad == BadEntry.CORRUPT_AUDIO:
            extension, subtype = "wav", "PCM_16"
        tags = (
            []
            if bad == BadEntry.NO_TAGS
            else non_mood_tags(rng)
            if bad == BadEntry.NO_MOOD_TAGS
            else top_tags(latent, rng)
        )
        if bad == BadEntry.ZERO_COUNTS:
            tags = [(name, 0) for name, _ in tags]
        others = [names[int(j)] for j in rng.permutation(n_total) if names[j][1] != artist][:3]
        items = _search_items(
            (title, artist),
            duration_ms,
            others,
            rng,
            include_match=bad != BadEntry.NO_SPOTIFY_MATCH,
        )
        tracks.append(
            DemoTrack(
                track_id=make_track_id(artist, title),
                artist=artist,
                title=title,
                latent=(float(latent[0]), float(latent[1]), float(latent[2])),
                seconds=seconds,
                render_seed=int(rng.integers(0, 2**31)),
                extension=extension,
                subtype=subtype,
                sample_rate=sample_rate,
                channels=channels,
                tags=tuple(tags),
                spotify_items=items,
                bad=bad,
                spotify_duration_ms=duration_ms,
            )
        )
    return tracks


def _dump(body: Any) -> bytes:
    """Compact UTF-8 JSON, as the Last.fm and Spotify servers send it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _lastfm_url(*parts: str) -> str:
    return "https://www.last.fm/music/" + "/_/".join(quote_plus(p) for p in parts)


def _page_entry(track: DemoTrack, rank: int, *, shout: bool = False) -> dict[str, Any]:
    artist = track.artist.upper() if shout else track.artist
    title = track.title.upper() if shout else track.title
    image = "https://lastfm.freetls.fastly.net/i/u/{size}/2a96cbd8b46e442fc41c2b86b821562f.png"
    return {
        "name": title,
        "duration": str(round(track.spotify_duration_ms / 1000)),
        "mbid": "",
        "url": _lastfm_url(artist, title),
        "streamable": {"#text": "0", "fulltrack": "0"},
        "artist": {"name": artist, "mbid": "", "url": _lastfm_url(artist)},
        "image": [
            {"#text": image.format(size=size), "size": name}
            for size, name in (
                ("34s", "small"),
                ("64s", "medium"),
                ("174s", "large"),
                ("300x300", "extralarge"),
            )
        ],
        "@attr": {"rank": str(rank)},
    }


def tag_top_tracks_pages(tracks: Sequence[DemoTrack], page_size: int) -> dict[int, bytes]:
    """``tag.getTopTracks`` bodies by page number. The first track is listed a second time
    on the last page, shouted in capitals, as Last.fm sometimes lists a track twice."""
    entries = [(track, False) for track in tracks]
    if len(tracks) > 1:
        entries.append((tracks[0], True))
    total_pages = -(-len(entries) // page_size)
    pages = {}
    for page in range(1, total_pages + 1):
        chunk = entries[(page - 1) * page_size : page * page_size]
        body = {
            "tracks": {
                "track": [
                    _page_entry(track, (page - 1) * page_size + i + 1, shout=shout)
                    for i, (track, shout) in enumerate(chunk)
                ],
                "@attr": {
                    "tag": CRAWL_TAG,
                    "page": str(page),
                    "perPage": str(page_size),
                    "totalPages": str(total_pages),
                    "total": str(len(entries)),
                },
            }
        }
        pages[page] = _dump(body)
    return pages


def track_top_tags_body(track: DemoTrack) -> bytes:
    """The ``track.getTopTags`` body of one track."""
    tags = [
        {"count": count, "name": name, "url": "https://www.last.fm/tag/" + quote_plus(name)}
        for name, count in track.tags
    ]
    return _dump(
        {"toptags": {"tag": tags, "@attr": {"artist": track.artist, "track": track.title}}}
    )


def spotify_search_body(track: DemoTrack) -> bytes:
    """The Spotify ``GET /v1/search?type=track`` body for one track's query."""
    query = quote(f"track:{clean_query(track.title)} artist:{clean_query(track.artist)}")
    limit = 10
    return _dump(
        {
            "tracks": {
                "href": f"https://api.spotify.com/v1/search?offset=0&limit={limit}&query={query}"
                "&type=track",
                "items": list(track.spotify_items),
                "limit": limit,
                "next": None,
                "offset": 0,
                "previous": None,
                "total": len(track.spotify_items),
            }
        }
    )


def ground_truth_csv(tracks: Sequence[DemoTrack]) -> bytes:
    """``id,valence,arousal,dominance`` of every track's latent VAD (evaluation only)."""
    lines = [",".join(("id", *VAD_LABELS))]
    lines += [f"{t.track_id},{t.latent[0]:.6f},{t.latent[1]:.6f},{t.latent[2]:.6f}" for t in tracks]
    return ("\n".join(lines) + "\n").encode("utf-8")


def corrupt_audio_bytes(track_id: str) -> bytes:
    """A RIFF/WAVE header followed by garbage: named like audio, not decodable."""
    junk = hashlib.sha256(track_id.encode()).digest() * 128
    return b"RIFF" + (len(junk) + 4).to_bytes(4, "little") + b"WAVEjunk" + junk


def render_track_file(track: DemoTrack, path: Path) -> None:
    """Render one track's audio and write it to ``path`` (a pure function of ``track``)."""
    if track.bad == BadEntry.CORRUPT_AUDIO:
        path.write_bytes(corrupt_audio_bytes(track.track_id))
        return
    audio = render_soundtrack(
        valence=track.latent[0],
        arousal=track.latent[1],
        dominance=track.latent[2],
        seconds=track.seconds,
        seed=track.render_seed,
        sample_rate=track.sample_rate,
        channels=track.channels,
    )
    write_audio(path, audio, track.sample_rate, subtype=track.subtype, stream_id=track.track_id)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _move_into(scratch: Path, destination: Path) -> None:
    """Move every file of ``scratch`` to the same relative place under ``destination``."""
    for source in sorted(p for p in scratch.rglob("*") if p.is_file()):
        target = destination / source.relative_to(scratch)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)


def build_demo_corpus(layer: RawLayer, config: DemoConfig | None = None) -> list[DemoTrack]:
    """Generate the demo raw layer where ``layer`` says and return the planned tracks.

    Deterministic: the same ``config`` gives byte-identical files. The tag pages, whose
    presence marks the raw layer as there (``RawLayer.present``), are moved into place last.
    """
    config = config or DemoConfig()
    tracks = plan_corpus(config)
    build = f".demo-build-{uuid.uuid4().hex}"

    def staged(target: Path) -> Path:
        """Where ``target`` is written first: a scratch folder next to it (same file system,
        so moving it in is a rename)."""
        return target.parent / build / target.name

    try:
        audio_dir = staged(layer.audio)
        audio_dir.mkdir(parents=True)
        jobs = [
            (t, audio_dir / f"{t.track_id}.{t.extension}")
            for t in tracks
            if t.bad != BadEntry.MISSING_AUDIO
        ]
        if config.workers > 1:
            with ProcessPoolExecutor(config.workers, mp_context=get_context("spawn")) as pool:
                list(pool.map(render_track_file, *zip(*jobs, strict=True)))
        else:
            for track, path in jobs:
                render_track_file(track, path)
        for track in tracks:
            _write(staged(layer.search) / f"{track.track_id}.json", spotify_search_body(track))
        write_demo_lexicon(staged(layer.lexicon))
        _write(staged(layer.ground_truth), ground_truth_csv(tracks))
        for track in tracks:
            _write(staged(layer.top_tags) / f"{track.track_id}.json", track_top_tags_body(track))
        for folder in (layer.audio, layer.search, layer.top_tags):
            _move_into(staged(folder), folder)
        for file in (layer.lexicon, layer.ground_truth):
            file.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged(file), file)

        pages = staged(layer.tag_pages)
        for page, body in tag_top_tracks_pages(tracks, config.page_size).items():
            _write(pages / CRAWL_TAG / f"page-{page:04d}.json", body)
        if layer.tag_pages.exists():
            _move_into(pages, layer.tag_pages)
        else:  # one atomic rename: the raw layer appears complete or not at all
            layer.tag_pages.parent.mkdir(parents=True, exist_ok=True)
            os.replace(pages, layer.tag_pages)
    finally:
        for part in astuple(layer):
            shutil.rmtree(part.parent / build, ignore_errors=True)
    return tracks
