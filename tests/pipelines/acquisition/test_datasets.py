"""The acquisition datasets: credentials from config or environment, the atomic file store, the
raw layer bound to the catalog's raw entries."""

from __future__ import annotations

import os

import pytest
from kedro.io import DatasetError

from soundtrack_emotion.datasets import (
    FileStore,
    LastfmClientDataset,
    RawLayerDataset,
    SpotifyClientDataset,
)
from soundtrack_emotion.datasets.api_support import parse_retry_after, redact, resolve_credentials
from soundtrack_emotion.datasets.raw_layer import RAW_ENTRIES, RawLayer, bind_raw_layer
from soundtrack_emotion.exceptions import ParameterError, PrerequisiteError

from .conftest import LASTFM_KEY, LASTFM_SECRET, SPOTIFY_ID, SPOTIFY_SECRET

ENV = (
    "LASTFM_API_KEY",
    "LASTFM_API_SECRET",
    "SPOTIFY_CLIENT_ID",
    "SPOTIFY_CLIENT_SECRET",
    "SPOTIPY_CLIENT_ID",
    "SPOTIPY_CLIENT_SECRET",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_credentials_come_from_config_then_environment(monkeypatch, fake_lastfm):
    monkeypatch.setenv("LASTFM_API_SECRET", LASTFM_SECRET)
    dataset = LastfmClientDataset(
        credentials={"api_key": LASTFM_KEY, "api_secret": None}, api_root=fake_lastfm.api_root
    )
    client = dataset.load()
    assert client.tag_top_tracks("soundtrack", page=1, limit=2)  # the key was accepted
    assert LASTFM_KEY not in str(dataset) and LASTFM_SECRET not in str(dataset)


def test_environment_alone_is_enough(monkeypatch, fake_spotify):
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", SPOTIFY_ID)
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", SPOTIFY_SECRET)  # spotipy's own name
    dataset = SpotifyClientDataset(api_root=fake_spotify.api_root, token_url=fake_spotify.token_url)
    assert dataset.load().search_tracks("Lovefool")


def test_missing_credentials_name_what_is_missing_and_never_a_value(monkeypatch):
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", SPOTIFY_ID)
    with pytest.raises(DatasetError) as caught:
        SpotifyClientDataset(credentials={"client_id": None}).load()
    message = str(caught.value)
    assert "client_secret" in message and "SPOTIFY_CLIENT_SECRET" in message
    assert "client_id (" not in message  # found in the environment
    assert SPOTIFY_ID not in message
    with pytest.raises(DatasetError, match=r"lastfm:.*credentials\.yml"):
        LastfmClientDataset().load()


def test_resolve_credentials_prefers_explicit_values(monkeypatch):
    monkeypatch.setenv("X_KEY", "from-env")
    resolved = resolve_credentials({"key": "explicit"}, {"key": ("X_KEY",)}, service="X", key="x")
    assert resolved == {"key": "explicit"}
    with pytest.raises(PrerequisiteError):
        resolve_credentials({"key": ""}, {"key": ("UNSET_VAR",)}, service="X", key="x")


def test_client_datasets_are_read_only():
    with pytest.raises(DatasetError, match="read-only"):
        LastfmClientDataset().save(object())
    with pytest.raises(DatasetError, match="item by item"):
        RawLayerDataset().save(object())


def test_bad_api_roots_are_refused():
    with pytest.raises(DatasetError, match="api_root"):
        LastfmClientDataset(
            credentials={"api_key": "k", "api_secret": "s"}, api_root="ftp://example.org"
        ).load()


def test_file_store_writes_atomically(tmp_path, monkeypatch):
    store = FileStore(tmp_path / "raw")
    store.write_bytes("a/b/item.json", b'{"ok": 1}')
    assert store.read_bytes("a/b/item.json") == b'{"ok": 1}'

    def crash(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.write_bytes("a/b/other.json", b"{}")
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "raw/a/b").iterdir()) == ["item.json"]


def test_file_store_leftovers_and_stems(tmp_path):
    store = FileStore(tmp_path)
    store.write_bytes("audio/x.wav", b"RIFF")
    (tmp_path / "audio" / ".x.wav.123.partial").write_bytes(b"half")
    (tmp_path / "audio" / ".scratch-abc").mkdir()
    assert store.files_by_stem("audio") == {"x": "x.wav"}
    assert FileStore(tmp_path / "audio").files_by_stem() == {"x": "x.wav"}  # the store's root
    assert store.remove_leftovers("audio") == 2
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == ["x.wav"]
    with pytest.raises(ParameterError):
        store.path("../outside.json")


def test_redaction_masks_registered_secrets_and_auth_headers():
    from soundtrack_emotion.datasets.api_support import protect_secrets

    protect_secrets("s3cr3t-value")
    text = redact("key=s3cr3t-value; Authorization: Bearer abc.DEF-123 and Basic Zm9vOmJhcg==")
    assert text == "key=***; Authorization: Bearer *** and Basic ***"


def test_secrets_are_masked_in_records_of_child_loggers_too():
    import io
    import logging

    from soundtrack_emotion.datasets.api_support import protect_secrets

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    child = logging.getLogger("httpcore2.http11")  # a child of a protected library logger
    level = child.level
    child.setLevel(logging.DEBUG)
    try:
        protect_secrets("child-s3cr3t")
        child.debug("send_request headers=[(b'api_key', b'%s')]", "child-s3cr3t")
    finally:
        root.removeHandler(handler)
        child.setLevel(level)
    assert "child-s3cr3t" not in stream.getvalue()
    assert "api_key" in stream.getvalue()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), (" 0 ", 0.0), ("", None), (None, None), ("soon", None), ("-3", 0.0)],
)
def test_retry_after_values(value, seconds):
    assert parse_retry_after(value) == seconds


def test_retry_after_http_date():
    from datetime import UTC, datetime

    now = datetime(2024, 11, 27, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 27 Nov 2024 12:00:30 GMT", now=now) == 30.0


def test_the_raw_layer_store_is_bound_to_the_catalogs_raw_entries(tmp_path, project_catalog):
    names = [*RAW_ENTRIES.values(), "raw_layer_store", "corpus_is_demo"]
    moved = {"spotify_search": "answers/spotify"}
    catalog = project_catalog(tmp_path, names, moved=moved)
    with pytest.raises(DatasetError, match="bind_raw_layer"):
        catalog.load("raw_layer_store")  # not bound: no path of its own to fall back on
    layer = bind_raw_layer(catalog)
    assert catalog.load("raw_layer_store") == layer == RawLayer.from_catalog(catalog)
    assert layer.search == tmp_path / "answers/spotify"
    assert layer.top_tags == tmp_path / "data/01_raw/lastfm/track_top_tags"
    assert not layer.present and not layer.is_demo


def test_the_demo_marker_must_look_at_the_demo_ground_truth(tmp_path, project_catalog):
    names = [*RAW_ENTRIES.values(), "corpus_is_demo"]
    catalog = project_catalog(tmp_path, names, moved={"demo_ground_truth": "truth.csv"})
    with pytest.raises(ParameterError, match=r"corpus_is_demo.*demo_ground_truth"):
        bind_raw_layer(catalog)
