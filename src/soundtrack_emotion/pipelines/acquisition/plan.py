"""The acquisition parameters (``conf/base/parameters_acquisition.yml``), validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from soundtrack_emotion.datasets.spotify_client import MAX_SEARCH_LIMIT
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.acquisition.retry import RetryPolicy

DOWNLOADER_BACKENDS = ("local", "yt-dlp", "savify")
MAX_LASTFM_PAGE_SIZE = 1000


def _check_rate(section: str, requests_per_second: float) -> None:
    if not requests_per_second > 0:
        raise ParameterError(
            f"{section}.requests_per_second must be > 0, got {requests_per_second!r}"
        )


@dataclass(frozen=True)
class LastfmPlan:
    """Which tag charts to page through, how far, and how fast."""

    tags: tuple[str, ...] = ("soundtrack",)
    max_tracks: int | None = 9550
    page_size: int = 50
    requests_per_second: float = 5.0

    def __post_init__(self) -> None:
        if not self.tags:
            raise ParameterError("lastfm.tags must name at least one tag")
        for tag in self.tags:
            if not isinstance(tag, str) or not tag.strip() or "/" in tag or tag in (".", ".."):
                raise ParameterError(f"lastfm.tags: {tag!r} cannot name a raw-layer folder")
        if self.max_tracks is not None and self.max_tracks < 1:
            raise ParameterError(f"lastfm.max_tracks must be >= 1 or null, got {self.max_tracks!r}")
        if not 1 <= self.page_size <= MAX_LASTFM_PAGE_SIZE:
            raise ParameterError(
                f"lastfm.page_size must be in [1, {MAX_LASTFM_PAGE_SIZE}], got {self.page_size!r}"
            )
        _check_rate("lastfm", self.requests_per_second)


@dataclass(frozen=True)
class SpotifyPlan:
    """How many search results to choose from, in which market, and how fast."""

    search_limit: int = 10
    market: str | None = None
    requests_per_second: float = 5.0

    def __post_init__(self) -> None:
        if not 1 <= self.search_limit <= MAX_SEARCH_LIMIT:
            raise ParameterError(
                f"spotify.search_limit must be in [1, {MAX_SEARCH_LIMIT}], "
                f"got {self.search_limit!r}"
            )
        _check_rate("spotify", self.requests_per_second)


@dataclass(frozen=True)
class DownloaderPlan:
    """The audio backend and the settings of every backend (one section each)."""

    backend: str = "local"
    # Settings of each backend, passed to its constructor (see downloaders.py).
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backend not in DOWNLOADER_BACKENDS:
            raise ParameterError(
                f"downloader.backend must be one of {DOWNLOADER_BACKENDS}, got {self.backend!r}"
            )
        sections = {b.replace("-", "_") for b in DOWNLOADER_BACKENDS}
        unknown = set(self.options) - sections
        if unknown:
            raise ParameterError(
                f"downloader: unknown section(s) {sorted(unknown)}, expected {sorted(sections)}"
            )

    @property
    def backend_options(self) -> dict[str, Any]:
        return dict(self.options.get(self.backend.replace("-", "_")) or {})


@dataclass(frozen=True)
class AcquisitionPlan:
    """Everything the crawl stages need to know, checked before the first request."""

    lastfm: LastfmPlan
    spotify: SpotifyPlan
    retry: RetryPolicy
    downloader: DownloaderPlan
    progress_bar: bool = True

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> AcquisitionPlan:
        """Build from the ``acquisition`` parameters; unknown or bad keys raise ParameterError."""
        params = dict(parameters)
        try:
            lastfm = dict(params.pop("lastfm", {}))
            if "tags" in lastfm:
                lastfm["tags"] = tuple(lastfm["tags"])
            downloader = dict(params.pop("downloader", {}))
            plan = cls(
                lastfm=LastfmPlan(**lastfm),
                spotify=SpotifyPlan(**params.pop("spotify", {})),
                retry=RetryPolicy.from_parameters(params.pop("retry", {})),
                downloader=DownloaderPlan(
                    backend=downloader.pop("backend", "local"), options=downloader
                ),
                progress_bar=bool(params.pop("progress_bar", True)),
            )
        except TypeError as error:  # an unknown key in one of the sections
            raise ParameterError(f"acquisition parameters: {error}") from error
        if params:
            raise ParameterError(f"acquisition parameters: unknown key(s) {sorted(params)}")
        return plan
