"""Nodes of the acquisition crawl: Last.fm tag pages and top tags, Spotify search, audio.

Each stage walks its items in a fixed order and, per item: skips it as ``cached`` when its
raw file exists (no request), else fetches it under the rate limit and retry policy, checks
the answer's shape and writes it to the raw layer at once, atomically (``done``), or records
it as ``failed`` with a reason and goes on. A killed run therefore resumes where it stopped,
and a rerun over a finished crawl makes no request at all. Each stage writes into the folder of
its raw catalog entry (:class:`~soundtrack_emotion.datasets.raw_layer.RawLayer`): tag pages as
``<tag>/page-<NNNN>.json``, top tags and search answers as ``<track_id>.json``, audio as
``<track_id>.<ext>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from soundtrack_emotion.core.matching import best_match, clean_query, make_track_id
from soundtrack_emotion.datasets.file_store import FileStore
from soundtrack_emotion.datasets.lastfm_client import LastfmClient
from soundtrack_emotion.datasets.raw_layer import RawLayer
from soundtrack_emotion.datasets.spotify_client import SpotifyClient
from soundtrack_emotion.exceptions import FetchError, PrerequisiteError
from soundtrack_emotion.pipelines.acquisition.downloaders import TrackToFetch, build_downloader
from soundtrack_emotion.pipelines.acquisition.plan import AcquisitionPlan
from soundtrack_emotion.pipelines.acquisition.report import ItemOutcome, StageLog, outcomes_frame
from soundtrack_emotion.pipelines.acquisition.responses import (
    count_top_tags,
    parse_tag_top_tracks,
    search_items,
)
from soundtrack_emotion.pipelines.acquisition.retry import RateLimiter, Requester
from soundtrack_emotion.runtime.paths import shown_path

logger = logging.getLogger(__name__)

TRACK_COLUMNS = ("track_id", "artist", "title", "tag", "page")
MATCH_COLUMNS = ("track_id", "spotify_id", "match_score", "duration_ms")


def tag_page_path(tag: str, page: int) -> str:
    """A tag page's path in the tag pages' folder."""
    return f"{tag}/page-{page:04d}.json"


def _requester(plan: AcquisitionPlan, requests_per_second: float) -> Requester:
    return Requester(policy=plan.retry, limiter=RateLimiter(requests_per_second))


def _fetch_to_store(
    *,
    stage: str,
    item: str,
    relpath: str,
    store: FileStore,
    request: Callable[[], bytes],
    check: Callable[[bytes], Any],
    requester: Requester,
) -> tuple[ItemOutcome, Any]:
    """Cached file, or one fetched, checked and stored item; ``(outcome, check(body))`` with
    ``None`` in place of the checked value when the item failed."""
    shown = shown_path(store.path(relpath))
    if store.exists(relpath):
        try:
            return ItemOutcome(stage, item, "cached", path=shown), check(store.read_bytes(relpath))
        except FetchError as error:  # a raw file edited or written by something else
            detail = f"stored file: {error.detail}"
            return ItemOutcome(stage, item, "failed", error.reason, 0, detail, shown), None

    def attempt() -> tuple[bytes, Any]:
        body = request()
        return body, check(body)

    try:
        (body, checked), tries = requester.call(attempt)
    except FetchError as error:
        return ItemOutcome(stage, item, "failed", error.reason, error.tries, error.detail), None
    store.write_bytes(relpath, body)
    return ItemOutcome(stage, item, "done", tries=tries, path=shown), checked


def plan_acquisition(
    lastfm_client: LastfmClient,
    spotify_client: SpotifyClient,
    raw_layer: RawLayer,
    parameters: Mapping[str, Any],
) -> AcquisitionPlan:
    """Validate parameters and every prerequisite before the first request.

    Both clients are inputs so that missing credentials fail here, at load time; the
    downloader backend checks its own needs (audio folder, ffmpeg, yt-dlp, savify); and a raw
    layer holding the demo corpus is refused, since its files would pass for crawled ones.
    """
    plan = AcquisitionPlan.from_parameters(parameters)
    if raw_layer.is_demo:
        raise PrerequisiteError(
            f"the raw layer holds the demo corpus ({raw_layer.ground_truth}): move it away (or "
            "point the raw catalog entries elsewhere) before crawling"
        )
    build_downloader(
        plan.downloader.backend,
        plan.downloader.backend_options,
        spotify_credentials=spotify_client.credentials,
    ).check()
    logger.info(
        "acquisition: tags %s, up to %s tracks, audio from %r; Last.fm at %s, Spotify at %s",
        list(plan.lastfm.tags),
        plan.lastfm.max_tracks or "all",
        plan.downloader.backend,
        lastfm_client.api_root,
        spotify_client.api_root,
    )
    return plan


def crawl_tag_top_tracks(
    lastfm_client: LastfmClient, raw_layer: RawLayer, plan: AcquisitionPlan
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Page through ``tag.getTopTracks`` for each tag until ``max_tracks`` unique tracks.

    Returns the corpus (one row per track id, first occurrence wins, columns
    ``TRACK_COLUMNS``) and the stage's outcomes. A failed page 1 skips its tag (the page
    count is unknown); a failed later page is recorded and paging goes on.
    """
    settings = plan.lastfm
    requester = _requester(plan, settings.requests_per_second)
    store = FileStore(raw_layer.tag_pages)
    tracks: dict[str, dict[str, Any]] = {}

    def enough() -> bool:
        return settings.max_tracks is not None and len(tracks) >= settings.max_tracks

    with StageLog("lastfm tag.getTopTracks", total=None, show=plan.progress_bar) as log:
        for tag in settings.tags:
            store.remove_leftovers(tag)
            page, last_page = 1, 1
            while page <= last_page and not enough():
                log.expect(1)
                outcome, parsed = _fetch_to_store(
                    stage="lastfm.tag_top_tracks",
                    item=f"{tag}/page-{page:04d}",
                    relpath=tag_page_path(tag, page),
                    store=store,
                    request=lambda tag=tag, page=page: lastfm_client.tag_top_tracks(
                        tag, page=page, limit=settings.page_size
                    ),
                    check=parse_tag_top_tracks,
                    requester=requester,
                )
                log.add(outcome)
                if parsed is None and page == 1:
                    break
                if parsed is not None:
                    pairs, last_page = parsed
                    if not pairs:  # past the last page Last.fm answers an empty list
                        break
                    for artist, title in pairs:
                        track_id = make_track_id(artist, title)
                        row = {"track_id": track_id, "artist": artist, "title": title}
                        tracks.setdefault(track_id, {**row, "tag": tag, "page": page})
                page += 1
    corpus = pd.DataFrame(list(tracks.values()), columns=list(TRACK_COLUMNS))
    return corpus, log.frame()


def crawl_track_top_tags(
    lastfm_client: LastfmClient, raw_layer: RawLayer, tracks: pd.DataFrame, plan: AcquisitionPlan
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``track.getTopTags`` of every track (an empty tag list is a valid answer).

    Returns ``(track_id, n_tags)`` per track whose tags are known (``tracks`` [n, 5] ->
    [m, 2], m <= n) and the stage's outcomes.
    """
    requester = _requester(plan, plan.lastfm.requests_per_second)
    store = FileStore(raw_layer.top_tags)
    store.remove_leftovers()
    counts: list[tuple[str, int]] = []
    with StageLog("lastfm track.getTopTags", total=len(tracks), show=plan.progress_bar) as log:
        for row in tracks.itertuples(index=False):
            outcome, n_tags = _fetch_to_store(
                stage="lastfm.track_top_tags",
                item=row.track_id,
                relpath=f"{row.track_id}.json",
                store=store,
                request=lambda row=row: lastfm_client.track_top_tags(row.artist, row.title),
                check=count_top_tags,
                requester=requester,
            )
            log.add(outcome)
            if n_tags is not None:
                counts.append((row.track_id, n_tags))
    return pd.DataFrame(counts, columns=["track_id", "n_tags"]), log.frame()


def search_spotify(
    spotify_client: SpotifyClient,
    raw_layer: RawLayer,
    tracks: pd.DataFrame,
    tag_counts: pd.DataFrame,
    *,
    match_threshold: float,
    plan: AcquisitionPlan,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Search Spotify for every track with at least one Last.fm tag and pick the best match.

    The query is the thesis's cleaned "artist title" (``matching.clean_query``); the whole
    search answer is stored, and ``matching.best_match`` chooses among its items (not blindly
    the first) with ``match_threshold``, the threshold dataset_creation applies too. Returns
    the matches (columns ``MATCH_COLUMNS``) and the stage's outcomes; "no match above the
    threshold" is a ``done`` search (reason ``no_match``) absent from the matches.
    """
    settings = plan.spotify
    requester = _requester(plan, settings.requests_per_second)
    store = FileStore(raw_layer.search)
    store.remove_leftovers()
    tagged = dict(zip(tag_counts["track_id"], tag_counts["n_tags"], strict=True))
    matches: list[tuple[str, str, float, int | None]] = []
    with StageLog("spotify search", total=len(tracks), show=plan.progress_bar) as log:
        for row in tracks.itertuples(index=False):
            stage, item = "spotify.search", row.track_id
            if row.track_id not in tagged:
                log.add(ItemOutcome(stage, item, "skipped", "lastfm_tags_missing"))
                continue
            if tagged[row.track_id] == 0:
                log.add(ItemOutcome(stage, item, "skipped", "no_lastfm_tags"))
                continue
            query = f"{clean_query(row.artist)} {clean_query(row.title)}".strip()
            if not query:
                log.add(ItemOutcome(stage, item, "skipped", "empty_query"))
                continue
            outcome, items = _fetch_to_store(
                stage=stage,
                item=item,
                relpath=f"{row.track_id}.json",
                store=store,
                request=lambda query=query: spotify_client.search_tracks(
                    query, limit=settings.search_limit, market=settings.market
                ),
                check=search_items,
                requester=requester,
            )
            if items is not None:
                match, score = best_match(row.artist, row.title, items, threshold=match_threshold)
                if match is None:
                    outcome = replace(outcome, reason="no_match", detail=f"best score {score:.2f}")
                else:
                    duration = match.get("duration_ms")
                    matches.append(
                        (
                            row.track_id,
                            str(match["id"]),
                            round(score, 4),
                            int(duration) if isinstance(duration, int | float) else None,
                        )
                    )
            log.add(outcome)
    frame = pd.DataFrame(matches, columns=list(MATCH_COLUMNS)).astype(
        {"match_score": "float64", "duration_ms": "Int64"}
    )
    return frame, log.frame()


def download_audio(
    spotify_client: SpotifyClient,
    raw_layer: RawLayer,
    tracks: pd.DataFrame,
    matches: pd.DataFrame,
    plan: AcquisitionPlan,
) -> pd.DataFrame:
    """Fetch the audio of every track with a Spotify match into ``<audio>/<track_id>.<ext>``.

    Returns the stage's outcomes; tracks without a match are ``skipped``.
    """
    downloader = build_downloader(
        plan.downloader.backend,
        plan.downloader.backend_options,
        spotify_credentials=spotify_client.credentials,
    )
    spotify_ids = dict(zip(matches["track_id"], matches["spotify_id"], strict=True))
    durations = {
        track_id: int(ms)
        for track_id, ms in zip(matches["track_id"], matches["duration_ms"], strict=True)
        if pd.notna(ms) and ms > 0
    }
    store = FileStore(raw_layer.audio)
    store.remove_leftovers()
    stage = f"audio.{downloader.name}"
    with (
        StageLog(f"audio ({downloader.name})", total=len(tracks), show=plan.progress_bar) as log,
        store.scratch_dir() as stage_scratch,
    ):
        existing = store.files_by_stem()
        started = False
        for row in tracks.itertuples(index=False):
            if row.track_id in existing:
                shown = shown_path(store.path(existing[row.track_id]))
                log.add(ItemOutcome(stage, row.track_id, "cached", path=shown))
                continue
            if row.track_id not in spotify_ids:
                log.add(ItemOutcome(stage, row.track_id, "skipped", "no_spotify_match"))
                continue
            if not started:
                downloader.start(stage_scratch)
                started = True
            track = TrackToFetch(
                row.track_id,
                row.artist,
                row.title,
                spotify_ids[row.track_id],
                duration_ms=durations.get(row.track_id),
            )
            with store.scratch_dir() as workdir:
                try:
                    fetched = downloader.fetch(track, workdir)
                except FetchError as error:
                    log.add(
                        ItemOutcome(stage, row.track_id, "failed", error.reason, 1, error.detail)
                    )
                    continue
                target = store.move_in(fetched, f"{row.track_id}{fetched.suffix.lower()}")
            log.add(ItemOutcome(stage, row.track_id, "done", tries=1, path=shown_path(target)))
    return log.frame()


def report_acquisition(*stage_reports: pd.DataFrame) -> pd.DataFrame:
    """Concatenate the stages' outcomes into the acquisition report (one row per item) and
    log the totals per status."""
    report = pd.concat([outcomes_frame([]), *stage_reports], ignore_index=True)
    totals = report["status"].value_counts().to_dict()
    logger.info(
        "acquisition finished: %s", ", ".join(f"{n} {status}" for status, n in totals.items())
    )
    return report
