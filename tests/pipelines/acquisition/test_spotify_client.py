"""The real spotipy client-credentials flow, through SpotifyClient, against the loopback
Spotify."""

from __future__ import annotations

import base64
import json

import pytest

from soundtrack_emotion.datasets.spotify_client import SpotifyClient
from soundtrack_emotion.exceptions import FetchError, PrerequisiteError, RetryableFetchError

from .conftest import SPOTIFY_ID, SPOTIFY_SECRET


def test_token_then_search_returns_the_raw_body(spotify_client, fake_spotify):
    body = spotify_client.search_tracks("Skeeter Davis The End of the World", limit=5)

    assert body == fake_spotify.sent[-1]  # exactly the bytes the server sent
    token_request, search_request = fake_spotify.requests
    basic = base64.b64encode(f"{SPOTIFY_ID}:{SPOTIFY_SECRET}".encode()).decode()
    assert token_request.path == "/api/token"
    assert token_request.headers["Authorization"] == f"Basic {basic}"
    assert token_request.params == {"grant_type": "client_credentials"}
    assert search_request.path == "/v1/search"
    assert search_request.params == {
        "q": "Skeeter Davis The End of the World",
        "limit": "5",
        "offset": "0",
        "type": "track",
    }
    items = json.loads(body)["tracks"]["items"]
    # the popular karaoke cover comes first: picking blindly would be wrong
    assert [i["artists"][0]["name"] for i in items] == ["Hit Crew", "Skeeter Davis"]


def test_the_token_is_reused(spotify_client, fake_spotify):
    for query in ("Only Hope", "Lovefool", "Blow Me Away"):
        spotify_client.search_tracks(query)
    assert fake_spotify.count("/api/token") == 1
    assert fake_spotify.count("/v1/search") == 3


def test_no_token_file_is_written(spotify_client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spotify_client.search_tracks("Lovefool")
    assert list(tmp_path.iterdir()) == []  # spotipy's default cache would write ./.cache


@pytest.mark.parametrize(
    ("fault", "error_type", "reason"),
    [
        ("rate_limit_429", RetryableFetchError, "http_429"),
        ("http_500", RetryableFetchError, "http_500"),
        ("http_503", RetryableFetchError, "http_503"),
        ("timeout", RetryableFetchError, "timeout"),
        ("reset", RetryableFetchError, "connection_error"),
        ("malformed", FetchError, "malformed_json"),
    ],
)
def test_each_search_failure_is_classified(spotify_client, fake_spotify, fault, error_type, reason):
    fake_spotify.fail("/v1/search", fault)
    with pytest.raises(FetchError) as caught:
        spotify_client.search_tracks("Lovefool")
    assert type(caught.value) is error_type
    assert caught.value.reason == reason
    assert json.loads(spotify_client.search_tracks("Lovefool"))["tracks"]["items"]


def test_429_carries_retry_after(spotify_client, fake_spotify):
    fake_spotify.retry_after = "3"
    fake_spotify.fail("/v1/search", "rate_limit_429")
    with pytest.raises(RetryableFetchError) as caught:
        spotify_client.search_tracks("Lovefool")
    assert caught.value.retry_after_s == 3.0


def test_a_failing_token_endpoint_is_retryable(spotify_client, fake_spotify):
    fake_spotify.fail("/api/token", "http_503")
    with pytest.raises(RetryableFetchError) as caught:
        spotify_client.search_tracks("Lovefool")
    assert caught.value.reason == "token_http_503"


def test_rejected_credentials_stop_everything(fake_spotify):
    client = SpotifyClient(
        client_id=SPOTIFY_ID,
        client_secret="wrong",
        api_root=fake_spotify.api_root,
        token_url=fake_spotify.token_url,
    )
    with pytest.raises(PrerequisiteError, match="invalid_client"):
        client.search_tracks("Lovefool")


def test_repr_and_errors_hide_the_secret(fake_spotify):
    client = SpotifyClient(
        client_id=SPOTIFY_ID,
        client_secret=SPOTIFY_SECRET,
        api_root=fake_spotify.api_root,
        token_url=fake_spotify.token_url,
    )
    assert SPOTIFY_SECRET not in repr(client)
    fake_spotify.fail("/v1/search", "http_500")
    with pytest.raises(FetchError) as caught:
        client.search_tracks("Lovefool")
    assert SPOTIFY_SECRET not in str(caught.value)
