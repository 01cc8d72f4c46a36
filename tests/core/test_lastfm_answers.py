"""lastfm_answers: one reading of a tag.getTopTracks page for the crawl and dataset_creation,
the empty page included."""

from __future__ import annotations

import json

import pytest

from soundtrack_emotion.core.lastfm_answers import MalformedAnswer, TopTrack, parse_top_tracks
from soundtrack_emotion.exceptions import DataValidationError, FetchError
from soundtrack_emotion.pipelines.acquisition.responses import parse_tag_top_tracks
from soundtrack_emotion.pipelines.dataset_creation.nodes import collect_crawled_tracks

ATTR = {"tag": "epic", "page": "3", "totalPages": "3"}


def page(track) -> dict:
    return {"tracks": {"track": track, "@attr": ATTR}}


def entry(artist: str, title: str, rank: str | None = None) -> dict:
    return {"name": title, "artist": {"name": artist}} | ({"@attr": {"rank": rank}} if rank else {})


@pytest.mark.parametrize("empty", ["", [], None])
def test_an_empty_page_has_no_tracks_for_the_crawl_and_for_dataset_creation(empty) -> None:
    assert parse_top_tracks(page(empty)) == []
    assert parse_tag_top_tracks(json.dumps(page(empty)).encode()) == ([], 3)
    crawled = collect_crawled_tracks({"epic/page-0003": lambda: page(empty)})
    assert crawled.empty and list(crawled.columns)[:3] == ["id", "track", "artist"]


def test_a_one_track_page_is_a_bare_object_and_ranks_default_to_positions() -> None:
    assert parse_top_tracks(page(entry("Hans Zimmer", "Time"))) == [
        TopTrack("Hans Zimmer", "Time", 1)
    ]
    listed = [entry("A", "x", rank="7"), entry("B", "y")]
    assert [t.rank for t in parse_top_tracks(page(listed))] == [7, 2]


def test_both_readers_leave_out_nameless_entries_and_refuse_malformed_ones() -> None:
    listed = [entry("", "untitled"), entry("A", "x")]
    assert parse_tag_top_tracks(json.dumps(page(listed)).encode())[0] == [("A", "x")]
    crawled = collect_crawled_tracks({"epic/page-0001": lambda: page(listed)})
    assert crawled["track"].tolist() == ["x"]
    broken = page([{"name": "no artist"}])
    with pytest.raises(MalformedAnswer, match="entry 0"):
        parse_top_tracks(broken)
    with pytest.raises(FetchError, match="entry 0"):
        parse_tag_top_tracks(json.dumps(broken).encode())
    with pytest.raises(DataValidationError, match="entry 0"):
        collect_crawled_tracks({"epic/page-0001": lambda: broken})
