"""The crawl nodes end to end against the loopback servers: the raw layer they write, every
failure mode, interruption and resumption, reruns, and secret hygiene."""

from __future__ import annotations

import base64
import json
import logging
import os

import pytest

from soundtrack_emotion.core.matching import clean_query, make_track_id
from soundtrack_emotion.datasets.file_store import FileStore
from soundtrack_emotion.datasets.lastfm_client import LastfmClient
from soundtrack_emotion.exceptions import (
    DataValidationError,
    FetchError,
    ParameterError,
    PrerequisiteError,
)
from soundtrack_emotion.pipelines.acquisition import downloaders
from soundtrack_emotion.pipelines.acquisition.nodes import (
    crawl_tag_top_tracks,
    crawl_track_top_tags,
    plan_acquisition,
    tag_page_path,
)
from soundtrack_emotion.pipelines.acquisition.responses import parse_tag_top_tracks
from soundtrack_emotion.pipelines.dataset_creation.nodes import collect_crawled_tracks

from .conftest import (
    CATALOGUE,
    CHART,
    CLIENT_TIMEOUT_S,
    LASTFM_KEY,
    LASTFM_SECRET,
    SECRETS,
    SPOTIFY_ID,
    SPOTIFY_SECRET,
    FakeLastfm,
    crawl_parameters,
    raw_layer_at,
    run_crawl,
    tree_bytes,
)

UNIQUE_TRACKS = len({make_track_id(t.artist, t.name) for t in CHART})
TAGGED = [t for t in CHART[:-1] if t.tags]  # the last entry repeats the first


def tid(artist: str, title: str) -> str:
    return make_track_id(artist, title)


def request_paths(lastfm: FakeLastfm, spotify, since: tuple[int, int] = (0, 0)) -> list[str]:
    """The raw-layer file each request was made for."""
    queries = {
        f"{clean_query(t.artist)} {clean_query(t.name)}": tid(t.artist, t.name) for t in CHART
    }
    paths = []
    for r in lastfm.requests[since[0] :]:
        if r.params.get("method") == "tag.getTopTracks":
            page = tag_page_path(r.params["tag"], int(r.params["page"]))
            paths.append(f"lastfm/tag_top_tracks/{page}")
        else:
            track_id = tid(r.params["artist"], r.params["track"])
            paths.append(f"lastfm/track_top_tags/{track_id}.json")
    for r in spotify.requests[since[1] :]:
        if r.path.endswith("/search"):
            paths.append(f"spotify/search/{queries[r.params['q']]}.json")
    return paths


@pytest.fixture
def params(audio_library):
    return crawl_parameters(audio_library)


def test_a_full_crawl_writes_the_raw_layer(
    lastfm_client, spotify_client, fake_lastfm, fake_spotify, params, tmp_path
):
    raw = tmp_path / "raw"
    crawl = run_crawl(lastfm_client, spotify_client, raw, params)
    files = tree_bytes(raw)

    # tag pages: exactly the bodies the server sent, page 4 never asked for
    pages = [p for p in files if p.startswith("lastfm/tag_top_tracks/")]
    assert pages == [f"lastfm/tag_top_tracks/{tag_page_path('soundtrack', n)}" for n in (1, 2, 3)]
    assert [files[p] for p in pages] == fake_lastfm.sent[:3]
    # the duplicate (capitals) collapses; first rank wins
    assert len(crawl.tracks) == UNIQUE_TRACKS
    assert crawl.tracks.iloc[0]["artist"] == "Skeeter Davis"
    # every track's top tags, the untagged one included (an empty list is an answer)
    for track in CHART[:-1]:
        body = json.loads(files[f"lastfm/track_top_tags/{tid(track.artist, track.name)}.json"])
        assert [(t["name"], t["count"]) for t in body["toptags"]["tag"]] == list(track.tags)
    # Spotify: searched only tracks with tags; the raw body is the server's
    searched = sorted(p for p in files if p.startswith("spotify/search/"))
    assert searched == sorted(f"spotify/search/{tid(t.artist, t.name)}.json" for t in TAGGED)
    assert set(fake_spotify.sent[1:]) == {files[p] for p in searched}  # [0] is the token
    # best match, not the first (more popular) karaoke hit
    matches = dict(zip(crawl.matches["track_id"], crawl.matches["spotify_id"], strict=True))
    assert matches[tid("Skeeter Davis", "The End of the World")] == CATALOGUE[0].id
    assert tid("Nobody On Spotify", "Lost Reel") not in matches
    assert crawl.outcome("spotify.search", tid("Nobody On Spotify", "Lost Reel"))["reason"] == (
        "no_match"
    )
    assert (
        crawl.matches.set_index("track_id").loc[tid("Jake Bugg", "Simple as This"), "duration_ms"]
        == 199453
    )
    # audio: by Spotify id, by name (any case, nested, bracketed extras, " - " suffixes)
    audio = sorted(p for p in files if p.startswith("audio/"))
    expected = {
        tid("Skeeter Davis", "The End of the World"): ".wav",
        tid("Mandy Moore", "Only Hope"): ".flac",
        tid("The Cardigans", "Lovefool"): ".ogg",
        tid("Carly Simon", "Nobody Does It Better"): ".wav",
        tid("Jake Bugg", "Simple as This"): ".wav",
        tid("Simon & Garfunkel", "The Sound of Silence (Live)"): ".wav",
        tid("Hans Zimmer", "Time - Inception Suite"): ".wav",
    }
    assert audio == sorted(f"audio/{k}{v}" for k, v in expected.items())
    benjamin = crawl.outcome("audio.local", tid("Breaking Benjamin", "Blow Me Away"))
    assert (benjamin["status"], benjamin["reason"]) == ("failed", "not_found")
    assert crawl.statuses("audio.local") == {"done": 7, "skipped": 2, "failed": 1}
    assert not [p for p in raw.rglob("*") if p.name.startswith(".")]  # no temporary leftovers


def test_a_rerun_over_a_finished_crawl_makes_no_request(
    lastfm_client, spotify_client, fake_lastfm, fake_spotify, params, tmp_path, monkeypatch
):
    raw = tmp_path / "raw"
    run_crawl(lastfm_client, spotify_client, raw, params)
    before = tree_bytes(raw)
    counts = (len(fake_lastfm.requests), len(fake_spotify.requests))
    fetched = []
    original = downloaders.LocalFolderDownloader.fetch
    monkeypatch.setattr(
        downloaders.LocalFolderDownloader,
        "fetch",
        lambda self, track, workdir: fetched.append(track) or original(self, track, workdir),
    )

    again = run_crawl(lastfm_client, spotify_client, raw, params)

    assert (len(fake_lastfm.requests), len(fake_spotify.requests)) == counts
    assert [t.track_id for t in fetched] == [tid("Breaking Benjamin", "Blow Me Away")]
    assert tree_bytes(raw) == before
    assert set(again.report["status"]) <= {"cached", "skipped", "failed"}
    assert again.statuses("lastfm.track_top_tags") == {"cached": UNIQUE_TRACKS}
    assert len(again.matches) == 8  # matches recomputed from the stored search bodies


class SimulatedKill(BaseException):
    """Stands for the process dying: not an Exception, so nothing may swallow it."""


@pytest.mark.parametrize("kill_after", [1, 6, 15, 24])
def test_a_killed_crawl_resumes_without_repeating_finished_items(
    lastfm_client,
    spotify_client,
    fake_lastfm,
    fake_spotify,
    params,
    tmp_path,
    monkeypatch,
    kill_after,
):
    reference = tmp_path / "reference"
    run_crawl(lastfm_client, spotify_client, reference, params)
    raw = tmp_path / "raw"
    start = (len(fake_lastfm.requests), len(fake_spotify.requests))

    replaced = []
    real_replace = os.replace

    def dying_replace(source, target):
        if len(replaced) == kill_after:
            raise SimulatedKill  # between receiving an answer and storing it
        replaced.append(target)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(SimulatedKill):
        run_crawl(lastfm_client, spotify_client, raw, params)
    monkeypatch.setattr(os, "replace", real_replace)

    finished = set(tree_bytes(raw))
    assert len(finished) == kill_after
    assert not [p for p in raw.rglob("*") if p.name.startswith(".") and p.is_file()]
    middle = (len(fake_lastfm.requests), len(fake_spotify.requests))

    resumed = run_crawl(lastfm_client, spotify_client, raw, params)

    repeated = finished & set(request_paths(fake_lastfm, fake_spotify, since=middle))
    assert repeated == set()
    assert tree_bytes(raw) == tree_bytes(reference)
    assert (resumed.report["status"] == "cached").sum() == kill_after
    # and the interrupted run itself asked for nothing twice
    first_run = request_paths(fake_lastfm, fake_spotify, since=start)[: kill_after + 1]
    assert len(first_run) == len(set(first_run))


RETRIED_FAULTS = [
    "rate_limit_200",
    "rate_limit_429",
    "http_500",
    "http_503",
    "timeout",
    "reset",
    "service_error",
]


@pytest.mark.parametrize("fault", RETRIED_FAULTS)
def test_transient_lastfm_failures_are_retried(
    lastfm_client, spotify_client, fake_lastfm, params, tmp_path, fault
):
    fake_lastfm.retry_after = "0"
    fake_lastfm.fail("/2.0/", fault, fault, method="track.getTopTags", track="Only Hope")
    fake_lastfm.fail("/2.0/", fault, method="tag.getTopTracks", page="2")
    crawl = run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)

    tags = crawl.outcome("lastfm.track_top_tags", tid("Mandy Moore", "Only Hope"))
    page = crawl.outcome("lastfm.tag_top_tracks", "soundtrack/page-0002")
    assert (tags["status"], tags["tries"]) == ("done", 3)
    assert (page["status"], page["tries"]) == ("done", 2)
    assert fake_lastfm.count("/2.0/", track="Only Hope") == 3
    assert len(crawl.tracks) == UNIQUE_TRACKS


@pytest.mark.parametrize("fault", ["rate_limit_429", "http_500", "timeout", "reset"])
def test_transient_spotify_failures_are_retried(
    lastfm_client, spotify_client, fake_spotify, params, tmp_path, fault
):
    fake_spotify.retry_after = "0"
    fake_spotify.fail("/v1/search", fault, q="Mandy Moore Only Hope")
    crawl = run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)
    outcome = crawl.outcome("spotify.search", tid("Mandy Moore", "Only Hope"))
    assert (outcome["status"], outcome["tries"]) == ("done", 2)
    assert tid("Mandy Moore", "Only Hope") in set(crawl.matches["track_id"])


def test_retry_after_is_waited_for(lastfm_client, spotify_client, fake_lastfm, params, tmp_path):
    fake_lastfm.retry_after = "1"
    fake_lastfm.fail("/2.0/", "rate_limit_429", method="track.getTopTags", track="Lovefool")
    run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)
    first, second = [r.at for r in fake_lastfm.requests if r.params.get("track") == "Lovefool"]
    assert second - first >= 1.0


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("malformed", "malformed_json"),
        ("bad_shape", "unexpected_shape"),
        ("invalid_params", "lastfm_error_6"),
    ],
)
def test_malformed_or_refused_answers_fail_the_item_and_the_crawl_goes_on(
    lastfm_client, spotify_client, fake_lastfm, params, tmp_path, fault, reason
):
    fake_lastfm.fail("/2.0/", fault, method="track.getTopTags", track="Lovefool")
    crawl = run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)
    lovefool = tid("The Cardigans", "Lovefool")
    outcome = crawl.outcome("lastfm.track_top_tags", lovefool)
    assert (outcome["status"], outcome["reason"], outcome["tries"]) == ("failed", reason, 1)
    assert not (tmp_path / "raw" / f"lastfm/track_top_tags/{lovefool}.json").exists()
    assert crawl.statuses("lastfm.track_top_tags") == {"done": UNIQUE_TRACKS - 1, "failed": 1}
    # without its tags the track is neither searched nor downloaded, and says why
    assert crawl.outcome("spotify.search", lovefool)["reason"] == "lastfm_tags_missing"
    assert crawl.outcome("audio.local", lovefool)["reason"] == "no_spotify_match"


@pytest.mark.parametrize(
    "page",
    [
        {"tracks": {"track": [], "@attr": {"totalPages": None}}},
        {"tracks": {"track": [], "@attr": {"totalPages": ["3"]}}},
        {"tracks": {"track": [{"name": "x"}], "@attr": {"totalPages": "1"}}},
        {"tracks": {"track": [{"name": 7, "artist": {"name": "A"}}], "@attr": {"totalPages": "1"}}},
    ],
)
def test_a_page_dataset_creation_would_refuse_is_never_stored(page):
    """The crawl's check is at least as strict as dataset_creation's reading of a stored page,
    and a malformed page is the item's failure, never an exception that ends the crawl."""
    body = json.dumps(page).encode()
    with pytest.raises(FetchError) as caught:
        parse_tag_top_tracks(body)
    assert caught.value.reason == "unexpected_shape"
    if page["tracks"]["track"]:
        with pytest.raises(DataValidationError):
            collect_crawled_tracks({"soundtrack/page-0001": lambda: page})


def test_exhausted_retries_fail_the_item_and_a_rerun_fetches_only_it(
    lastfm_client, spotify_client, fake_spotify, params, tmp_path
):
    fake_spotify.fail("/v1/search", *["http_500"] * 4, q="The Cardigans Lovefool")
    raw = tmp_path / "raw"
    crawl = run_crawl(lastfm_client, spotify_client, raw, params)
    outcome = crawl.outcome("spotify.search", tid("The Cardigans", "Lovefool"))
    assert (outcome["status"], outcome["reason"], outcome["tries"]) == ("failed", "http_500", 4)
    assert crawl.statuses("spotify.search")["done"] == len(TAGGED) - 1

    searches_before = fake_spotify.count("/v1/search")
    again = run_crawl(lastfm_client, spotify_client, raw, params)
    assert fake_spotify.count("/v1/search") == searches_before + 1
    assert again.outcome("spotify.search", tid("The Cardigans", "Lovefool"))["status"] == "done"
    assert again.outcome("audio.local", tid("The Cardigans", "Lovefool"))["status"] == "done"


def test_a_retry_after_too_long_fails_at_once(
    lastfm_client, spotify_client, fake_spotify, params, tmp_path
):
    fake_spotify.retry_after = "86400"  # Spotify does answer with day-long bans
    fake_spotify.fail("/v1/search", "rate_limit_429", q="Jake Bugg Simple as This")
    crawl = run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)
    outcome = crawl.outcome("spotify.search", tid("Jake Bugg", "Simple as This"))
    assert (outcome["status"], outcome["reason"], outcome["tries"]) == ("failed", "http_429", 1)
    assert "86400" in outcome["detail"]


def test_a_failed_first_page_skips_the_tag_a_later_one_only_its_tracks(
    lastfm_client, spotify_client, fake_lastfm, params, tmp_path
):
    fake_lastfm.fail("/2.0/", *["http_500"] * 4, method="tag.getTopTracks", page="2")
    crawl = run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)
    assert crawl.outcome("lastfm.tag_top_tracks", "soundtrack/page-0002")["status"] == "failed"
    assert crawl.outcome("lastfm.tag_top_tracks", "soundtrack/page-0003")["status"] == "done"
    assert len(crawl.tracks) == UNIQUE_TRACKS - 4

    fake_lastfm.fail("/2.0/", *["malformed"], method="tag.getTopTracks", page="1")
    nothing = run_crawl(lastfm_client, spotify_client, tmp_path / "other", params)
    assert nothing.tracks.empty
    assert nothing.statuses("lastfm.tag_top_tracks") == {"failed": 1}


def test_a_corrupt_stored_file_is_reported_not_trusted(
    lastfm_client, spotify_client, params, tmp_path
):
    bugg = tid("Jake Bugg", "Simple as This")
    FileStore(tmp_path / "raw").write_bytes(f"spotify/search/{bugg}.json", b'{"tracks": [')
    crawl = run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)
    outcome = crawl.outcome("spotify.search", bugg)
    assert (outcome["status"], outcome["reason"]) == ("failed", "malformed_json")
    assert outcome["detail"].startswith("stored file")
    assert bugg not in set(crawl.matches["track_id"])


def test_max_tracks_stops_paging(
    lastfm_client, spotify_client, fake_lastfm, tmp_path, audio_library
):
    params = crawl_parameters(audio_library, lastfm={"max_tracks": 5})
    crawl = run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)
    assert fake_lastfm.count("/2.0/", method="tag.getTopTracks") == 2
    assert len(crawl.tracks) == 8  # whole pages: both pages' tracks are in the corpus


def test_a_server_that_dies_mid_crawl(lastfm_client, spotify_client, fake_lastfm, params, tmp_path):
    raw = tmp_path / "raw"
    layer = raw_layer_at(raw)
    plan = plan_acquisition(lastfm_client, spotify_client, layer, params)
    tracks, _ = crawl_tag_top_tracks(lastfm_client, layer, plan)
    fake_lastfm.stop()
    _, outcomes = crawl_track_top_tags(lastfm_client, layer, tracks, plan)
    assert set(outcomes["reason"]) == {"connection_error"}
    assert set(outcomes["tries"]) == {4}

    revived = FakeLastfm(api_key=LASTFM_KEY, charts=fake_lastfm.charts_by_name).start()
    try:
        client = LastfmClient(
            api_key=LASTFM_KEY,
            api_secret=LASTFM_SECRET,
            api_root=revived.api_root,
            timeout_s=CLIENT_TIMEOUT_S,
        )
        crawl = run_crawl(client, spotify_client, raw, params)
    finally:
        revived.stop()
    assert revived.count("/2.0/", method="tag.getTopTracks") == 0  # pages were kept
    assert revived.count("/2.0/", method="track.getTopTags") == UNIQUE_TRACKS
    assert crawl.statuses("lastfm.track_top_tags") == {"done": UNIQUE_TRACKS}


def test_secrets_reach_no_file_no_report_and_no_log(
    lastfm_client, spotify_client, params, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    for name in ("spotipy", "pylast", "httpx2", "httpcore2", "urllib3"):  # the project's
        caplog.set_level(logging.DEBUG, logger=name)  # logging.yml quiets them; undo that
    raw = tmp_path / "raw"
    crawl = run_crawl(lastfm_client, spotify_client, raw, params)
    report_csv = tmp_path / "report.csv"
    crawl.report.to_csv(report_csv, index=False)
    basic = base64.b64encode(f"{SPOTIFY_ID}:{SPOTIFY_SECRET}".encode()).decode()
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "spotipy.oauth2" in logged and "httpx2" in logged  # they did log at DEBUG
    for secret in (*SECRETS, basic):
        assert secret not in logged
        assert secret not in report_csv.read_text()
        for path in raw.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes()


def test_missing_prerequisites_stop_the_crawl_before_any_request(
    lastfm_client, spotify_client, fake_lastfm, fake_spotify, params, tmp_path
):
    layer = raw_layer_at(tmp_path / "raw")
    missing_folder = crawl_parameters(tmp_path / "no-such-folder")
    with pytest.raises(PrerequisiteError, match="no-such-folder"):
        plan_acquisition(lastfm_client, spotify_client, layer, missing_folder)
    with pytest.raises(ParameterError, match="backend"):
        plan_acquisition(
            lastfm_client, spotify_client, layer, {**params, "downloader": {"backend": "x"}}
        )
    for bad, match in (
        ({"lastfm": {**params["lastfm"], "requests_per_second": 0}}, "requests_per_second"),
        ({"lastfm": {**params["lastfm"], "tags": ["a/b"]}}, "raw-layer folder"),
        ({"spotify": {**params["spotify"], "search_limit": 80}}, "search_limit"),
        ({"downloader": {**params["downloader"], "yt-dlp": {}}}, "unknown section"),
    ):
        with pytest.raises(ParameterError, match=match):
            plan_acquisition(lastfm_client, spotify_client, layer, {**params, **bad})
    with pytest.raises(ParameterError, match="unknown key"):
        plan_acquisition(lastfm_client, spotify_client, layer, {**params, "typo": 1})
    layer.ground_truth.parent.mkdir(parents=True)
    layer.ground_truth.write_text("id,valence,arousal,dominance\n")
    with pytest.raises(PrerequisiteError, match="demo corpus"):
        plan_acquisition(lastfm_client, spotify_client, layer, params)
    assert fake_lastfm.requests == [] and fake_spotify.requests == []
