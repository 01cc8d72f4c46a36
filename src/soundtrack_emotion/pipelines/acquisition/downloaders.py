"""Audio downloaders: one interface, three backends chosen by ``downloader.backend``.

* ``local`` (default): the user's own audio folder; a file matches a track by its Spotify id,
  its track id, or its normalised "artist - title" name.
* ``yt-dlp``: searches YouTube by "artist - title" with the maintained ``yt-dlp`` executable,
  which needs ``ffmpeg`` to extract the audio (``pip install -e ".[ytdlp]"``). It runs with
  ``--ignore-config`` in the scratch folder (a ``yt-dlp.conf`` can run commands), in its own
  process group (a time-out ends its ffmpeg too), and skips uploads far longer than Spotify's
  duration of the track.
* ``savify``: the thesis's choice; downloads by Spotify id. It depends on the unmaintained
  ``youtube-dl``, so it is an optional extra (``pip install -e ".[savify]"``) that may break.

Every backend checks its prerequisites in :meth:`Downloader.check`, which the pipeline calls
before the first request, and writes each file into a scratch folder the caller then moves
into the raw layer atomically.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from soundtrack_emotion.core.audio import estimate_seconds
from soundtrack_emotion.core.matching import clean_query, normalise_name
from soundtrack_emotion.exceptions import FetchError, ParameterError, PrerequisiteError
from soundtrack_emotion.runtime.paths import resolve_path

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = ("wav", "flac", "ogg", "mp3", "m4a", "opus")
_STDERR_TAIL = 400
# A download may differ from the expected duration by this ratio, plus DURATION_SLACK_S (intros,
# outros, a live version): anything further off is another recording, e.g. a 10-hour loop.
MAX_DURATION_RATIO = 1.5
DURATION_SLACK_S = 15.0
# Without an expected duration, longer downloads are refused (a film cue is rarely longer).
MAX_SECONDS = 1800.0


@dataclass(frozen=True)
class TrackToFetch:
    track_id: str
    artist: str
    title: str
    spotify_id: str
    # Spotify's duration of the matched track; None when unknown.
    duration_ms: int | None = None

    def longest_seconds(self, *, max_ratio: float, max_seconds: float) -> float:
        """The longest download accepted as this track."""
        if not self.duration_ms:
            return max_seconds
        return self.duration_ms / 1000 * max_ratio + DURATION_SLACK_S

    def shortest_seconds(self, *, max_ratio: float) -> float:
        """The shortest download accepted as this track."""
        if not self.duration_ms:
            return 0.0
        return max(0.0, self.duration_ms / 1000 / max_ratio - DURATION_SLACK_S)


def check_duration(
    path: Path, track: TrackToFetch, *, max_ratio: float, max_seconds: float
) -> None:
    """Raise ``FetchError("duration_mismatch")`` when the file at ``path`` is much longer or
    shorter than ``track`` (Spotify's duration, else at most ``max_seconds``)."""
    seconds = estimate_seconds(path)
    if seconds is None:
        raise FetchError("io_error", f"{path.name}: the downloaded file cannot be read")
    longest = track.longest_seconds(max_ratio=max_ratio, max_seconds=max_seconds)
    shortest = track.shortest_seconds(max_ratio=max_ratio)
    if not shortest <= seconds <= longest:
        expected = (
            f"Spotify's {track.duration_ms / 1000:.0f} s" if track.duration_ms else "no duration"
        )
        raise FetchError(
            "duration_mismatch",
            f"downloaded {seconds:.0f} s, expected {shortest:.0f}-{longest:.0f} s ({expected})",
        )


def _check_duration_options(max_duration_ratio: float, max_seconds: float) -> None:
    if not max_duration_ratio >= 1:
        raise ParameterError(f"max_duration_ratio must be >= 1, got {max_duration_ratio!r}")
    if not max_seconds > 0:
        raise ParameterError(f"max_seconds must be > 0, got {max_seconds!r}")


class Downloader(Protocol):
    name: str

    def check(self) -> None:
        """Raise :class:`PrerequisiteError` if anything the backend needs is missing."""

    def start(self, scratch: Path) -> None:
        """Called once before the first fetch with a folder that lives until the stage ends."""

    def fetch(self, track: TrackToFetch, workdir: Path) -> Path:
        """Write the track's audio into ``workdir`` and return its path; or raise FetchError."""


def _find_executable(name: str) -> str | None:
    """``name`` on PATH, else next to this interpreter (a virtualenv that is not activated)."""
    found = shutil.which(name)
    if found:
        return found
    sibling = Path(sys.executable).parent / name
    return str(sibling) if sibling.is_file() else None


def _check_audio_format(audio_format: str) -> None:
    if audio_format not in AUDIO_EXTENSIONS:
        raise ParameterError(
            f"audio_format must be one of {AUDIO_EXTENSIONS}, got {audio_format!r}"
        )


def _name_key(artist: str, title: str) -> str:
    return f"{normalise_name(clean_query(artist))} {normalise_name(clean_query(title))}"


class LocalFolderDownloader:
    """Copies files from a local audio folder (searched recursively)."""

    name = "local"

    def __init__(self, *, folder: str, extensions: Sequence[str] = AUDIO_EXTENSIONS) -> None:
        self.folder = resolve_path(folder)  # relative: from the project root
        self.extensions = tuple(e.lower().lstrip(".") for e in extensions)
        if not self.extensions:
            raise ParameterError("downloader.local.extensions must not be empty")
        self._index: dict[str, Path] | None = None

    def check(self) -> None:
        if not self.folder.is_dir():
            raise PrerequisiteError(
                f"audio folder {str(self.folder)!r} does not exist: put the corpus audio there "
                "(files named by Spotify id or 'Artist - Title') or set "
                "acquisition.downloader.local.folder"
            )

    def start(self, scratch: Path) -> None:
        self._index = self._build_index()

    def _build_index(self) -> dict[str, Path]:
        index: dict[str, Path] = {}
        files = sorted(
            p
            for p in self.folder.rglob("*")
            if p.is_file() and p.suffix.lower().lstrip(".") in self.extensions
        )
        for path in files:
            stem = path.stem
            keys = {stem, normalise_name(stem)}
            if " - " in stem:
                artist, title = stem.split(" - ", 1)
                keys.add(_name_key(artist, title))
            for key in keys:
                if key in index and index[key] != path:
                    logger.debug("audio folder: %s and %s both match %r", index[key], path, key)
                index.setdefault(key, path)
        return index

    def match(self, track: TrackToFetch) -> Path | None:
        if self._index is None:
            self._index = self._build_index()
        for key in (
            track.spotify_id,
            track.track_id,
            normalise_name(f"{track.artist} {track.title}"),
            _name_key(track.artist, track.title),
        ):
            if key and key in self._index:
                return self._index[key]
        return None

    def fetch(self, track: TrackToFetch, workdir: Path) -> Path:
        source = self.match(track)
        if source is None:
            raise FetchError("not_found", f"no file for {track.artist} - {track.title}")
        target = workdir / f"{track.track_id}{source.suffix.lower()}"
        try:
            if source.stat().st_size == 0:
                raise FetchError("empty_file", str(source))
            shutil.copyfile(source, target)
        except OSError as error:  # unreadable file, vanished since the index was built, ...
            raise FetchError("io_error", f"{source}: {error}") from error
        return target


class YtDlpDownloader:
    """Runs ``yt-dlp`` on a YouTube search for "artist - title" and extracts the audio."""

    name = "yt-dlp"

    def __init__(
        self,
        *,
        executable: str = "yt-dlp",
        ffmpeg: str = "ffmpeg",
        audio_format: str = "mp3",
        query: str = "ytsearch1:{artist} - {title} audio",
        timeout_s: float = 600.0,
        extra_args: Sequence[str] = (),
        max_duration_ratio: float = MAX_DURATION_RATIO,
        max_seconds: float = MAX_SECONDS,
    ) -> None:
        _check_audio_format(audio_format)
        _check_duration_options(max_duration_ratio, max_seconds)
        if "{artist}" not in query or "{title}" not in query:
            raise ParameterError(f"query must contain {{artist}} and {{title}}, got {query!r}")
        try:  # any other placeholder would fail every fetch
            query.format(artist="", title="")
        except (KeyError, IndexError, ValueError) as error:
            raise ParameterError(
                f"query may only use {{artist}} and {{title}}, got {query!r} ({error!r})"
            ) from error
        self.executable = executable
        self.ffmpeg = ffmpeg
        self.audio_format = audio_format
        self.query = query
        self.timeout_s = timeout_s
        self.extra_args = tuple(extra_args)
        self.max_duration_ratio = float(max_duration_ratio)
        self.max_seconds = float(max_seconds)
        self._resolved: tuple[str, str] | None = None

    def check(self) -> None:
        executable = _find_executable(self.executable)
        if executable is None:
            raise PrerequisiteError(
                f'yt-dlp executable {self.executable!r} not found: pip install -e ".[ytdlp]" '
                "or set acquisition.downloader.yt_dlp.executable"
            )
        ffmpeg = _find_executable(self.ffmpeg)
        if ffmpeg is None:
            raise PrerequisiteError(
                f"ffmpeg {self.ffmpeg!r} not found: yt-dlp needs it to extract audio; install "
                "ffmpeg (e.g. apt-get install ffmpeg) or set acquisition.downloader.yt_dlp.ffmpeg"
            )
        try:
            subprocess.run([executable, "--version"], check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as error:
            raise PrerequisiteError(f"{executable} --version failed: {error}") from error
        self._resolved = (executable, ffmpeg)

    def start(self, scratch: Path) -> None:
        if self._resolved is None:
            self.check()

    def fetch(self, track: TrackToFetch, workdir: Path) -> Path:
        if self._resolved is None:
            self.check()
        executable, ffmpeg = self._resolved
        longest = track.longest_seconds(
            max_ratio=self.max_duration_ratio, max_seconds=self.max_seconds
        )
        command = [
            executable,
            # Neither the user's nor the working directory's yt-dlp.conf, which can run commands.
            "--ignore-config",
            "--no-playlist",
            "--no-progress",
            "--quiet",
            "--no-warnings",
            # Skip an upload far longer than the track before downloading it.
            "--match-filter",
            f"duration <= {longest:.0f}",
            "--format",
            "bestaudio/best",
            "--extract-audio",
            "--audio-format",
            self.audio_format,
            "--ffmpeg-location",
            ffmpeg,
            "--output",
            str(workdir / f"{track.track_id}.%(ext)s"),
            *self.extra_args,
            "--",
            self.query.format(artist=track.artist, title=track.title),
        ]
        returncode, stderr = run_process_group(command, cwd=workdir, timeout_s=self.timeout_s)
        if returncode != 0:
            raise FetchError("download_failed", stderr.strip()[-_STDERR_TAIL:])
        produced = sorted(
            p for p in workdir.iterdir() if p.is_file() and p.suffix.lstrip(".") in AUDIO_EXTENSIONS
        )
        if not produced:
            raise FetchError(
                "not_found", f"yt-dlp found no upload of at most {longest:.0f} s for the search"
            )
        check_duration(
            produced[0], track, max_ratio=self.max_duration_ratio, max_seconds=self.max_seconds
        )
        return produced[0]


def run_process_group(command: Sequence[str], *, cwd: Path, timeout_s: float) -> tuple[int, str]:
    """Run ``command`` in ``cwd`` in a process group of its own: (exit code, stderr).

    On a time-out the whole group is killed (yt-dlp's ffmpeg child included) and
    ``FetchError("timeout")`` raised; a command that cannot start raises
    ``FetchError("download_failed")``."""
    try:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as error:  # the executable vanished or cannot run any more
        raise FetchError("download_failed", f"{command[0]}: {error}") from error
    try:
        _, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as error:
        _kill_group(process)
        raise FetchError(
            "timeout", f"{Path(command[0]).name} ran longer than {timeout_s} s"
        ) from error
    except BaseException:
        _kill_group(process)
        raise
    return process.returncode, stderr or ""


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group has already ended
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


class SavifyDownloader:
    """Downloads by Spotify id with savify (``Savify.download("https://open.spotify.com/...")``)."""

    name = "savify"

    def __init__(
        self,
        *,
        credentials: tuple[str, str],
        ffmpeg: str = "ffmpeg",
        audio_format: str = "mp3",
        quality: str = "0",
        max_duration_ratio: float = MAX_DURATION_RATIO,
        max_seconds: float = MAX_SECONDS,
    ) -> None:
        _check_audio_format(audio_format)
        _check_duration_options(max_duration_ratio, max_seconds)
        self.max_duration_ratio = float(max_duration_ratio)
        self.max_seconds = float(max_seconds)
        self._credentials = credentials
        self.ffmpeg = ffmpeg
        self.audio_format = audio_format
        self.quality = str(quality)
        self._savify: Any = None
        self._downloads: Path | None = None

    def check(self) -> None:
        try:
            importlib.import_module("savify")
            importlib.import_module("savify.utils")
        except ImportError as error:
            raise PrerequisiteError(
                f'savify is not importable ({error}): pip install -e ".[savify]". Savify '
                "depends on the unmaintained youtube-dl and may no longer work; the yt-dlp "
                "backend is the maintained alternative"
            ) from error
        if _find_executable(self.ffmpeg) is None:
            raise PrerequisiteError(
                f"ffmpeg {self.ffmpeg!r} not found: savify needs it; install ffmpeg or set "
                "acquisition.downloader.savify.ffmpeg"
            )
        if not all(self._credentials):
            raise PrerequisiteError("savify needs the Spotify client id and secret")

    def start(self, scratch: Path) -> None:
        self.check()
        savify = importlib.import_module("savify")
        path_holder = importlib.import_module("savify.utils").PathHolder
        # One instance per stage: its constructor checks GitHub for updates, once.
        self._downloads = scratch / "savify"
        self._downloads.mkdir(parents=True, exist_ok=True)
        self._savify = savify.Savify(
            api_credentials=self._credentials,
            quality=self.quality,
            download_format=self.audio_format,
            path_holder=path_holder(data_path=str(scratch), downloads_path=str(self._downloads)),
            skip_cover_art=True,
            ffmpeg_location=_find_executable(self.ffmpeg) or self.ffmpeg,
        )

    def fetch(self, track: TrackToFetch, workdir: Path) -> Path:
        if self._savify is None or self._downloads is None:
            raise RuntimeError("SavifyDownloader.start() must run before fetch()")
        before = set(self._downloads.rglob("*"))
        # Savify logs its own failures and returns; no new file means nothing was found. Its
        # youtube-dl stack can also raise anything: that too is this track's failure only.
        try:
            self._savify.download(f"https://open.spotify.com/track/{track.spotify_id}")
        except Exception as error:
            raise FetchError("download_failed", f"savify: {error!r}"[:400]) from error
        produced = sorted(
            p
            for p in set(self._downloads.rglob("*")) - before
            if p.is_file() and p.suffix.lstrip(".") in AUDIO_EXTENSIONS
        )
        if not produced:
            raise FetchError("not_found", f"savify found nothing for spotify:{track.spotify_id}")
        target = workdir / f"{track.track_id}{produced[0].suffix}"
        shutil.move(produced[0], target)
        check_duration(
            target, track, max_ratio=self.max_duration_ratio, max_seconds=self.max_seconds
        )
        return target


def build_downloader(
    backend: str, options: Mapping[str, Any], *, spotify_credentials: tuple[str, str]
) -> Downloader:
    """The backend named ``backend`` configured with ``options`` (its parameter section)."""
    try:
        if backend == "local":
            return LocalFolderDownloader(**options)
        if backend == "yt-dlp":
            return YtDlpDownloader(**options)
        if backend == "savify":
            return SavifyDownloader(credentials=spotify_credentials, **options)
    except TypeError as error:
        raise ParameterError(f"downloader.{backend}: {error}") from error
    raise ParameterError(f"unknown downloader backend {backend!r}")
