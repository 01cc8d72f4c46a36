"""Audio downloaders: one interface, three backends chosen by ``downloader.backend``.

* ``local`` (default): the user's own audio folder; a file matches a track by its Spotify id,
  its track id, or its normalised "artist - title" name.
* ``yt-dlp``: searches YouTube by "artist - title" with the maintained ``yt-dlp`` executable,
  which needs ``ffmpeg`` to extract the audio (``pip install -e ".[ytdlp]"``).
* ``savify``: the thesis's choice; downloads by Spotify id. It depends on the unmaintained
  ``youtube-dl``, so it is an optional extra (``pip install -e ".[savify]"``) that may break.

Every backend checks its prerequisites in :meth:`Downloader.check`, which the pipeline calls
before the first request, and writes each file into a scratch folder the caller then moves
into the raw layer atomically.
"""

from __future__ import annotations

import importlib
import logging
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from soundtrack_emotion.core.matching import clean_query, normalise_name
from soundtrack_emotion.exceptions import FetchError, ParameterError, PrerequisiteError
from soundtrack_emotion.runtime.paths import resolve_path

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = ("wav", "flac", "ogg", "mp3", "m4a", "opus")
_STDERR_TAIL = 400


@dataclass(frozen=True)
class TrackToFetch:
    track_id: str
    artist: str
    title: str
    spotify_id: str


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
    ) -> None:
        _check_audio_format(audio_format)
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
        command = [
            executable,
            "--no-playlist",
            "--no-progress",
            "--quiet",
            "--no-warnings",
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
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise FetchError("timeout", f"yt-dlp ran longer than {self.timeout_s} s") from error
        except OSError as error:  # the executable vanished or cannot run any more
            raise FetchError("download_failed", f"{executable}: {error}") from error
        if result.returncode != 0:
            raise FetchError("download_failed", result.stderr.strip()[-_STDERR_TAIL:])
        produced = sorted(
            p for p in workdir.iterdir() if p.is_file() and p.suffix.lstrip(".") in AUDIO_EXTENSIONS
        )
        if not produced:
            raise FetchError("not_found", "yt-dlp produced no audio file")
        return produced[0]


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
    ) -> None:
        _check_audio_format(audio_format)
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
