"""The fake Last.fm answers like the real one: checked against recorded real answers in
``../shared/reference/lastfm_api`` (skipped where that folder is absent, e.g. a fresh clone)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from soundtrack_emotion.datasets.lastfm_client import LastfmClient

from .conftest import LASTFM_KEY, LASTFM_SECRET, FakeLastfm, LastfmTrack

CASSETTES = Path(__file__).resolve().parents[3].parent / "shared/reference/lastfm_api"
pytestmark = pytest.mark.skipif(
    not (CASSETTES / "pydrag_vcr_cassettes").is_dir(), reason="no recorded Last.fm answers here"
)


def recorded(name: str) -> tuple[str, dict[str, list[str]]]:
    """Body text and headers of the one interaction in a recorded cassette."""
    cassette = json.loads((CASSETTES / "pydrag_vcr_cassettes" / name).read_text())
    response = cassette["interactions"][0]["response"]
    return response["body"]["string"], response["headers"]


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def serve(
    charts: dict[str, list[LastfmTrack]], **attributes: str
) -> tuple[FakeLastfm, LastfmClient]:
    fake = FakeLastfm(api_key=LASTFM_KEY, charts=charts)
    for name, value in attributes.items():
        setattr(fake, name, value)
    fake.start()
    client = LastfmClient(api_key=LASTFM_KEY, api_secret=LASTFM_SECRET, api_root=fake.api_root)
    return fake, client


def test_real_bodies_are_compact_utf8_json():
    for path in sorted((CASSETTES / "pydrag_vcr_cassettes").glob("*_*.json")):
        body, headers = recorded(path.name)
        assert json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")) == body
        assert headers["Content-Type"] == ["application/json; charset=UTF-8"]


def test_top_tags_byte_for_byte():
    body, headers = recorded("track_get_top_tags.json")
    real = json.loads(body)["toptags"]
    track = LastfmTrack(
        real["@attr"]["artist"],
        real["@attr"]["track"],
        tags=tuple((t["name"], t["count"]) for t in real["tag"]),
    )
    fake, client = serve({"rock": [track]})
    try:
        answer = client.track_top_tags("AC/DC", "Hells Bells")
        assert answer == body.encode("utf-8")
        assert fake.content_type == headers["Content-Type"][0]
    finally:
        fake.stop()


def test_top_tracks_entries_byte_for_byte_and_page_shape():
    body, _ = recorded("tag_get_top_tracks.json")
    real = json.loads(body)["tracks"]
    tracks = [
        LastfmTrack(
            t["artist"]["name"],
            t["name"],
            int(t["duration"]),
            mbid=t["mbid"],
            artist_mbid=t["artist"]["mbid"],
            image_id="CENSORED",
        )
        for t in real["track"]
    ]
    fake, client = serve({"rap": tracks}, image_root="https://lastfm-img2.akamaized.net/i/u")
    try:
        answer = json.loads(client.tag_top_tracks("rap", page=1, limit=2))["tracks"]
    finally:
        fake.stop()
    assert answer["track"] == real["track"]
    assert shape(answer) == shape(real)
    assert list(answer["@attr"]) == list(real["@attr"])
