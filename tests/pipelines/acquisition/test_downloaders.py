"""The downloader backends' contracts, without the network: the local folder matcher, a fake
``yt-dlp`` executable on PATH, and a fake ``savify`` module."""

from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path

import pytest

from soundtrack_emotion.core.matching import make_track_id
from soundtrack_emotion.exceptions import FetchError, ParameterError, PrerequisiteError
from soundtrack_emotion.pipelines.acquisition.downloaders import (
    LocalFolderDownloader,
    SavifyDownloader,
    TrackToFetch,
    YtDlpDownloader,
    build_downloader,
)

from .conftest import CATALOGUE, SPOTIFY_ID, SPOTIFY_SECRET, crawl_parameters, run_crawl, write_tone

MATCHED = 8  # tracks of the loopback corpus with a Spotify match

FAKE_YT_DLP = """\
#!{python}
# A stand-in for yt-dlp: logs its arguments and working folder, writes a WAV for the search
# (as long as its duration filter allows, or as FAKE_SECONDS says), fails for some, hangs
# for one (with a child process standing in for ffmpeg, its pid written to FAKE_CHILD_PID).
import json, os, subprocess, sys, time, wave
args = sys.argv[1:]
if args == ["--version"]:
    print("2025.01.15")
    sys.exit(0)
with open({log!r}, "a") as log:
    log.write(json.dumps(dict(args=args, cwd=os.getcwd())) + "\\n")
query = args[args.index("--") + 1]
if "Breaking Benjamin" in query:
    sys.stderr.write("ERROR: [youtube:search] no video matches the query\\n")
    sys.exit(1)
if "Jake Bugg" in query:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    if os.environ.get("FAKE_CHILD_PID"):
        with open(os.environ["FAKE_CHILD_PID"], "w") as out:
            out.write(str(child.pid))
    time.sleep(30)
longest = float(args[args.index("--match-filter") + 1].split("<=")[1])
seconds = float(os.environ.get("FAKE_SECONDS") or max(1.0, (longest - 15) / 1.5))
fmt = args[args.index("--audio-format") + 1]
target = args[args.index("--output") + 1].replace("%(ext)s", fmt)
with wave.open(target, "wb") as out:
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(1000)
    out.writeframes(b"\\x00\\x01" * int(seconds * 1000))
"""


def make_executable(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def tool_dir(tmp_path, monkeypatch) -> Path:
    """A PATH holding only the fake tools a test writes into it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def add_ffmpeg(tool_dir: Path) -> None:
    make_executable(tool_dir, "ffmpeg", "#!/bin/sh\nexit 0\n")


def add_yt_dlp(tool_dir: Path, log: Path) -> None:
    make_executable(tool_dir, "yt-dlp", FAKE_YT_DLP.format(python=sys.executable, log=str(log)))


def test_yt_dlp_backend_fills_the_audio_folder(
    lastfm_client, spotify_client, tool_dir, tmp_path, audio_library
):
    log = tmp_path / "yt-dlp.log"
    add_ffmpeg(tool_dir)
    add_yt_dlp(tool_dir, log)
    params = crawl_parameters(
        audio_library,
        downloader={
            "backend": "yt-dlp",
            "yt_dlp": {"audio_format": "wav", "timeout_s": 1.0},
        },
    )
    crawl = run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)

    statuses = crawl.report[crawl.report["stage"] == "audio.yt-dlp"]
    failed = statuses[statuses["status"] == "failed"].set_index("item")
    benjamin = make_track_id("Breaking Benjamin", "Blow Me Away")
    bugg = make_track_id("Jake Bugg", "Simple as This")
    assert failed.loc[benjamin, "reason"] == "download_failed"
    assert "no video matches" in failed.loc[benjamin, "detail"]
    assert failed.loc[bugg, "reason"] == "timeout"
    audio = sorted((tmp_path / "raw" / "audio").iterdir())
    assert len(audio) == MATCHED - 2
    assert all(p.suffix == ".wav" and p.stat().st_size > 44 for p in audio)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    first = calls[0]["args"]
    assert first[first.index("--ffmpeg-location") + 1] == str(tool_dir / "ffmpeg")
    assert first[-1] == "ytsearch1:Skeeter Davis - The End of the World audio"
    assert "--extract-audio" in first
    # No configuration file is read: neither the user's nor one in the working folder.
    assert first[0] == "--ignore-config"
    assert all(Path(call["cwd"]).is_relative_to(tmp_path / "raw") for call in calls)


def test_yt_dlp_without_the_executable_or_ffmpeg_fails_before_the_crawl(
    lastfm_client, spotify_client, fake_lastfm, tool_dir, tmp_path, audio_library
):
    params = crawl_parameters(audio_library, downloader={"backend": "yt-dlp"})
    add_ffmpeg(tool_dir)
    with pytest.raises(PrerequisiteError, match=r"yt-dlp.*not found.*\[ytdlp\]"):
        run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)
    (tool_dir / "ffmpeg").unlink()
    add_yt_dlp(tool_dir, tmp_path / "log")
    with pytest.raises(PrerequisiteError, match="ffmpeg"):
        run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)
    assert fake_lastfm.requests == []


def fake_savify_modules(calls: dict) -> dict[str, types.ModuleType]:
    """``savify`` and ``savify.utils`` with the real package's constructor and download
    signatures; downloads "<artist> - <title>.<format>" for ids it knows, nothing otherwise
    (savify logs a failure and returns); raises for one, as its youtube-dl stack may."""
    known = {t.id: t for t in CATALOGUE if t.artists[0] != "Breaking Benjamin"}

    class PathHolder:
        def __init__(self, data_path: str | None = None, downloads_path: str | None = None):
            self.data_path = Path(data_path or ".")
            self.downloads_path = Path(downloads_path or self.data_path / "downloads")

        def get_download_dir(self) -> Path:
            return self.downloads_path

    class Savify:
        def __init__(
            self,
            api_credentials=None,
            quality="0",
            download_format="mp3",
            group=None,
            path_holder=None,
            retry=3,
            ydl_options=None,
            skip_cover_art=False,
            language=None,
            logger=None,
            ffmpeg_location="ffmpeg",
        ):
            calls.setdefault("init", []).append(
                {
                    "api_credentials": api_credentials,
                    "download_format": download_format,
                    "skip_cover_art": skip_cover_art,
                    "ffmpeg_location": ffmpeg_location,
                }
            )
            self.path_holder = path_holder
            self.download_format = download_format

        def download(self, query, query_type="track", create_m3u=False, artist_albums=False):
            calls.setdefault("download", []).append(query)
            if "Hans Zimmer" in str(known.get(query.rsplit("/", 1)[-1])):
                raise RuntimeError("youtube_dl.utils.DownloadError: unable to extract")
            track = known.get(query.rsplit("/", 1)[-1])
            if track is None:
                return
            name = f"{track.artists[0]} - {track.name}.{self.download_format}"
            # As long as the track (low rate: small files); a 10-hour loop for one.
            seconds = 36_000 if "Carly Simon" in track.artists else track.duration_ms / 1000
            write_tone(
                self.path_holder.get_download_dir() / name, seconds=seconds, sample_rate=1000
            )

    savify = types.ModuleType("savify")
    savify.Savify = Savify
    utils = types.ModuleType("savify.utils")
    utils.PathHolder = PathHolder
    savify.utils = utils
    return {"savify": savify, "savify.utils": utils}


def test_savify_backend_downloads_by_spotify_id(
    lastfm_client, spotify_client, tool_dir, tmp_path, audio_library, monkeypatch
):
    calls: dict = {}
    for name, module in fake_savify_modules(calls).items():
        monkeypatch.setitem(sys.modules, name, module)
    add_ffmpeg(tool_dir)
    params = crawl_parameters(
        audio_library, downloader={"backend": "savify", "savify": {"audio_format": "wav"}}
    )
    crawl = run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)

    assert len(calls["init"]) == 1  # one instance: its constructor phones GitHub
    assert calls["init"][0]["api_credentials"] == (SPOTIFY_ID, SPOTIFY_SECRET)
    assert calls["init"][0]["skip_cover_art"] is True
    assert calls["download"][0] == f"https://open.spotify.com/track/{CATALOGUE[0].id}"
    assert len(calls["download"]) == MATCHED
    audio = sorted(p.name for p in (tmp_path / "raw" / "audio").iterdir())
    assert len(audio) == MATCHED - 3
    assert make_track_id("Skeeter Davis", "The End of the World") + ".wav" in audio
    failed = crawl.report[crawl.report["status"] == "failed"].set_index("item")
    # The crawl went on past each of them; the 10-hour loop never reached the raw layer.
    assert sorted(failed["reason"]) == ["download_failed", "duration_mismatch", "not_found"]
    carly = make_track_id("Carly Simon", "Nobody Does It Better")
    assert failed.loc[carly, "reason"] == "duration_mismatch"
    assert "downloaded 36000 s" in failed.loc[carly, "detail"]
    assert not any(name.startswith(carly) for name in audio)
    hans = failed[failed["reason"] == "download_failed"]
    assert "unable to extract" in hans["detail"].iloc[0]


def test_savify_missing_is_explained_before_the_crawl(
    lastfm_client, spotify_client, fake_lastfm, tool_dir, tmp_path, audio_library, monkeypatch
):
    monkeypatch.setitem(sys.modules, "savify", None)  # "not installed"
    add_ffmpeg(tool_dir)
    params = crawl_parameters(audio_library, downloader={"backend": "savify"})
    with pytest.raises(PrerequisiteError, match=r"\[savify\].*unmaintained youtube-dl"):
        run_crawl(lastfm_client, spotify_client, tmp_path / "raw", params)
    assert fake_lastfm.requests == []


def test_savify_without_ffmpeg_or_credentials(tool_dir, monkeypatch):
    for name, module in fake_savify_modules({}).items():
        monkeypatch.setitem(sys.modules, name, module)
    with pytest.raises(PrerequisiteError, match="ffmpeg"):
        SavifyDownloader(credentials=(SPOTIFY_ID, SPOTIFY_SECRET)).check()
    add_ffmpeg(tool_dir)
    with pytest.raises(PrerequisiteError, match="client id and secret"):
        SavifyDownloader(credentials=(SPOTIFY_ID, "")).check()


def track(artist: str, title: str, spotify_id: str = "0000000000000000000000") -> TrackToFetch:
    return TrackToFetch(make_track_id(artist, title), artist, title, spotify_id)


def test_local_matching_rules(tmp_path):
    library = tmp_path / "library"
    by_id = write_tone(library / "4uLU6hMCjMI75M1A2tKUQC.flac")
    by_track_id = write_tone(library / f"{make_track_id('A', 'B')}.ogg")
    by_name = write_tone(library / "deep" / "Sigur Rós - Hoppípolla.wav")
    (library / "Empty Artist - Empty Song.mp3").write_bytes(b"")
    (library / "Text Artist - Text Song.txt").write_text("lyrics")
    downloader = LocalFolderDownloader(folder=str(library))
    downloader.check()

    assert downloader.match(track("X", "Y", "4uLU6hMCjMI75M1A2tKUQC")) == by_id
    assert downloader.match(track("A", "B")) == by_track_id
    assert downloader.match(track("sigur ros", "HOPPIPOLLA (Live)")) == by_name
    assert downloader.match(track("Text Artist", "Text Song")) is None
    with pytest.raises(FetchError) as caught:
        downloader.fetch(track("Empty Artist", "Empty Song"), tmp_path)
    assert caught.value.reason == "empty_file"
    with pytest.raises(FetchError) as caught:
        downloader.fetch(track("Nobody", "Nothing"), tmp_path)
    assert caught.value.reason == "not_found"
    (tmp_path / "work").mkdir()
    copied = downloader.fetch(track("Sigur Rós", "Hoppípolla"), tmp_path / "work")
    assert copied.read_bytes() == by_name.read_bytes() and by_name.exists()


def test_a_file_gone_since_indexing_fails_only_its_track(tmp_path):
    library = tmp_path / "library"
    source = write_tone(library / "Sigur Rós - Hoppípolla.wav")
    downloader = LocalFolderDownloader(folder=str(library))
    downloader.start(tmp_path)
    source.unlink()
    with pytest.raises(FetchError) as caught:
        downloader.fetch(track("Sigur Rós", "Hoppípolla"), tmp_path)
    assert caught.value.reason == "io_error"


def test_yt_dlp_that_can_no_longer_run_fails_only_its_track(tool_dir, tmp_path):
    add_ffmpeg(tool_dir)
    add_yt_dlp(tool_dir, tmp_path / "log")
    downloader = YtDlpDownloader(timeout_s=5)
    downloader.check()
    (tool_dir / "yt-dlp").unlink()
    with pytest.raises(FetchError) as caught:
        downloader.fetch(track("Mandy Moore", "Only Hope"), tmp_path)
    assert caught.value.reason == "download_failed"


def test_local_folder_must_exist(tmp_path):
    with pytest.raises(PrerequisiteError, match="does not exist"):
        LocalFolderDownloader(folder=str(tmp_path / "missing")).check()


@pytest.mark.parametrize(
    ("backend", "options"),
    [
        ("local", {"folder": "x", "colour": "red"}),
        ("yt-dlp", {"audio_format": "aiff"}),
        ("yt-dlp", {"query": "ytsearch1:{title}"}),
        ("yt-dlp", {"query": "ytsearch1:{artist} {title} {year}"}),
        ("savify", {"audio_format": "exe"}),
        ("napster", {}),
    ],
)
def test_bad_downloader_options_are_refused(backend, options):
    with pytest.raises(ParameterError):
        build_downloader(backend, options, spotify_credentials=("a", "b"))


def test_yt_dlp_fetch_without_check_resolves_itself(tool_dir, tmp_path):
    add_ffmpeg(tool_dir)
    add_yt_dlp(tool_dir, tmp_path / "log")
    downloader = YtDlpDownloader(audio_format="wav", timeout_s=5)
    work = tmp_path / "work"
    work.mkdir()
    fetched = downloader.fetch(track("Mandy Moore", "Only Hope"), work)
    assert fetched.parent == work and fetched.suffix == ".wav"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its parent to read its status.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\tZ" in status.read_text())


def test_yt_dlp_time_out_ends_its_child_processes_too(tool_dir, tmp_path, monkeypatch):
    add_ffmpeg(tool_dir)
    add_yt_dlp(tool_dir, tmp_path / "log")
    pid_file = tmp_path / "child.pid"
    monkeypatch.setenv("FAKE_CHILD_PID", str(pid_file))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(FetchError) as caught:
        YtDlpDownloader(audio_format="wav", timeout_s=2).fetch(track("Jake Bugg", "Simple"), work)
    assert caught.value.reason == "timeout"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(child), "the stand-in for ffmpeg outlived yt-dlp's time-out"


@pytest.mark.parametrize(
    ("duration_ms", "seconds", "reason"),
    [
        (200_000, 36_000.0, "duration_mismatch"),  # a 10-hour loop of the track
        (200_000, 20.0, "duration_mismatch"),  # a preview
        (200_000, 215.0, None),  # the track, with a longer outro
        (None, 2400.0, "duration_mismatch"),  # no duration known: at most 30 min
        (None, 240.0, None),
    ],
)
def test_yt_dlp_refuses_a_download_far_from_the_expected_duration(
    tool_dir, tmp_path, monkeypatch, duration_ms, seconds, reason
):
    add_ffmpeg(tool_dir)
    log = tmp_path / "log"
    add_yt_dlp(tool_dir, log)
    monkeypatch.setenv("FAKE_SECONDS", str(seconds))
    work = tmp_path / "work"
    work.mkdir()
    wanted = TrackToFetch("t1", "Mandy Moore", "Only Hope", "sp1", duration_ms=duration_ms)
    downloader = YtDlpDownloader(audio_format="wav", timeout_s=30)
    if reason is None:
        assert downloader.fetch(wanted, work).suffix == ".wav"
    else:
        with pytest.raises(FetchError) as caught:
            downloader.fetch(wanted, work)
        assert caught.value.reason == reason
        assert f"downloaded {seconds:.0f} s" in caught.value.detail
    args = json.loads(log.read_text().splitlines()[-1])["args"]
    longest = 200 * 1.5 + 15 if duration_ms else 1800
    assert args[args.index("--match-filter") + 1] == f"duration <= {longest:.0f}"


@pytest.mark.parametrize("options", [{"max_duration_ratio": 0.9}, {"max_seconds": 0}])
def test_bad_duration_limits_are_refused(options):
    with pytest.raises(ParameterError, match=next(iter(options))):
        build_downloader("yt-dlp", options, spotify_credentials=("a", "b"))
