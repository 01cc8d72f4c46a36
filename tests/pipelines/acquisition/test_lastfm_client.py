"""The real pylast client, through LastfmClient, against the loopback Last.fm."""

from __future__ import annotations

import json

import pytest

from soundtrack_emotion.datasets.lastfm_client import LastfmClient
from soundtrack_emotion.exceptions import FetchError, PrerequisiteError, RetryableFetchError

from .conftest import LASTFM_KEY, LASTFM_SECRET, PAGE_SIZE


def test_pages_come_back_byte_for_byte_with_pylast_request_fields(lastfm_client, fake_lastfm):
    body = lastfm_client.tag_top_tracks("soundtrack", page=2, limit=PAGE_SIZE)

    assert body == fake_lastfm.sent[-1]
    request = fake_lastfm.requests[-1]
    assert request.method == "POST"  # pylast posts a form
    assert request.headers["User-Agent"].startswith("pylast/")
    assert request.params == {
        "tag": "soundtrack",
        "page": "2",
        "limit": str(PAGE_SIZE),
        "format": "json",
        "api_key": LASTFM_KEY,
        "method": "tag.getTopTracks",
    }
    attr = json.loads(body)["tracks"]["@attr"]
    assert attr == {
        "tag": "soundtrack",
        "page": "2",
        "perPage": "4",
        "totalPages": "3",
        "total": "11",
    }
    ranks = [t["@attr"]["rank"] for t in json.loads(body)["tracks"]["track"]]
    assert ranks == ["5", "6", "7", "8"]


def test_pagination_ends_with_a_short_then_an_empty_page(lastfm_client):
    last = json.loads(lastfm_client.tag_top_tracks("soundtrack", page=3, limit=PAGE_SIZE))
    beyond = json.loads(lastfm_client.tag_top_tracks("soundtrack", page=4, limit=PAGE_SIZE))
    assert len(last["tracks"]["track"]) == 3
    assert beyond["tracks"]["track"] == []
    assert beyond["tracks"]["@attr"]["page"] == "4"


def test_top_tags_and_the_empty_answer_of_an_unknown_track(lastfm_client):
    known = json.loads(lastfm_client.track_top_tags("Jake Bugg", "Simple as This"))
    unknown = json.loads(lastfm_client.track_top_tags("Nobody", "Never Recorded"))
    assert [(t["name"], t["count"]) for t in known["toptags"]["tag"]] == [
        ("cool", 56),
        ("nice", 12),
        ("study", 12),
    ]
    assert unknown == {
        "toptags": {"tag": [], "@attr": {"artist": "Nobody", "track": "Never Recorded"}}
    }


@pytest.mark.parametrize(
    ("fault", "error_type", "reason"),
    [
        ("rate_limit_200", RetryableFetchError, "lastfm_error_29"),
        ("rate_limit_429", RetryableFetchError, "http_429"),
        ("service_error", RetryableFetchError, "lastfm_error_8"),
        ("http_500", RetryableFetchError, "http_500"),
        ("http_503", RetryableFetchError, "http_503"),
        ("timeout", RetryableFetchError, "timeout"),
        ("reset", RetryableFetchError, "connection_error"),
        ("malformed", FetchError, "malformed_json"),
        ("invalid_params", FetchError, "lastfm_error_6"),
    ],
)
def test_each_failure_is_classified(lastfm_client, fake_lastfm, fault, error_type, reason):
    fake_lastfm.fail("/2.0/", fault, method="track.getTopTags")
    with pytest.raises(FetchError) as caught:
        lastfm_client.track_top_tags("Mandy Moore", "Only Hope")
    assert type(caught.value) is error_type
    assert caught.value.reason == reason
    # the fault is consumed: the next request succeeds
    assert json.loads(lastfm_client.track_top_tags("Mandy Moore", "Only Hope"))["toptags"]["tag"]


def test_429_carries_the_servers_retry_after(lastfm_client, fake_lastfm):
    fake_lastfm.retry_after = "7"
    fake_lastfm.fail("/2.0/", "rate_limit_429")
    with pytest.raises(RetryableFetchError) as caught:
        lastfm_client.tag_top_tracks("soundtrack", page=1, limit=PAGE_SIZE)
    assert caught.value.retry_after_s == 7.0


def test_a_wrong_api_key_stops_everything(fake_lastfm):
    client = LastfmClient(
        api_key="not-the-key",
        api_secret=LASTFM_SECRET,
        api_root=fake_lastfm.api_root,
        timeout_s=1.0,
    )
    with pytest.raises(PrerequisiteError, match="lastfm_error_10"):
        client.tag_top_tracks("soundtrack", page=1, limit=PAGE_SIZE)


def test_a_dead_server_is_a_retryable_connection_error(fake_lastfm):
    client = LastfmClient(
        api_key=LASTFM_KEY, api_secret=LASTFM_SECRET, api_root=fake_lastfm.api_root, timeout_s=1.0
    )
    fake_lastfm.stop()
    with pytest.raises(RetryableFetchError) as caught:
        client.tag_top_tracks("soundtrack", page=1, limit=PAGE_SIZE)
    assert caught.value.reason == "connection_error"


def test_repr_hides_the_key(lastfm_client):
    assert LASTFM_KEY not in repr(lastfm_client)
    assert LASTFM_SECRET not in repr(lastfm_client)
