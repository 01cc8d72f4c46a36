"""Nodes of dataset_creation: raw Last.fm / Spotify / audio files -> VAD-labelled soundtracks.

Per-track problems (a missing or malformed response, no mood tag, no Spotify match, no audio
file) never stop the run: the track is dropped with its reason, which ``track_status`` keeps
and ``dataset_report`` lists. Only a broken crawl listing or an invalid output raise.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from soundtrack_emotion.core.labelling import (
    DropReason,
    label_track,
    normalise_tag,
    stop_set,
)
from soundtrack_emotion.core.lastfm_answers import (
    MalformedAnswer,
    parse_top_tags,
    parse_top_tracks,
)
from soundtrack_emotion.core.matching import best_match, make_track_id
from soundtrack_emotion.core.vocabulary import QUADRANTS, SPLITS, VAD_LABELS
from soundtrack_emotion.exceptions import DataValidationError, ParameterError
from soundtrack_emotion.pipelines.dataset_creation.splitting import (
    assign_splits,
    groups_spanning_splits,
    split_groups,
)
from soundtrack_emotion.pipelines.dataset_creation.tag_filter import (
    lexicon_aliases,
    make_tag_filter,
)
from soundtrack_emotion.pipelines.dataset_creation.tag_vocabulary import (
    VOCABULARY_VERSION,
    TagClass,
)

logger = logging.getLogger(__name__)

Partitions = Mapping[str, Callable[[], Any]]

# The funnel of the dataset report, in order; a track stops at the first step it fails.
STEPS = ("crawled", "with_tags", "with_mood_tags", "with_spotify_id", "with_audio", "kept")
SOUNDTRACK_COLUMNS = (
    "id",
    "track",
    "artist",
    "duration_ms",
    "weighted_mood",
    "spotify_id",
    "audio_path",
    *VAD_LABELS,
    "n_mood_tags",
    "split",
    # Which corpus a track comes from, and its Russell quadrant where the corpus labels
    # quadrants instead of VAD values (its VAD labels are then NaN).
    "corpus",
    "quadrant",
)
# The corpus name of the tracks labelled from Last.fm tags.
LASTFM_CORPUS = "lastfm"
_PAGE_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def _page_key(partition_id: str) -> tuple[str, int, str]:
    folder, _, name = partition_id.rpartition("/")
    number = _PAGE_NUMBER.search(name)
    return folder, int(number.group(1)) if number else 0, name


def collect_crawled_tracks(tag_top_tracks: Partitions) -> pd.DataFrame:
    """The crawled corpus: every track of the ``tag.getTopTracks`` pages, once.

    Input: partitions ``<tag>/page-NNNN`` -> page body. Output, one row per track id (the
    first listing wins, in tag, page and rank order): ``id, track, artist, source_tag, page,
    rank``. A page that is not a ``tag.getTopTracks`` body raises ``DataValidationError``.
    """
    rows = []
    for partition_id in sorted(tag_top_tracks, key=_page_key):
        body = tag_top_tracks[partition_id]()
        tracks = body.get("tracks") if isinstance(body, dict) else None
        if not isinstance(tracks, dict):
            detail = body.get("message") if isinstance(body, dict) else type(body).__name__
            raise DataValidationError(
                f"tag.getTopTracks page {partition_id!r} is not a page of tracks ({detail}); "
                "re-crawl it"
            )
        try:
            listed = parse_top_tracks(body)
        except MalformedAnswer as error:
            raise DataValidationError(
                f"tag.getTopTracks page {partition_id!r}: {error}; re-crawl it"
            ) from None
        tag = str((tracks.get("@attr") or {}).get("tag", partition_id.rpartition("/")[0]))
        rows += [
            {
                "id": make_track_id(track.artist, track.title),
                "track": track.title,
                "artist": track.artist,
                "source_tag": tag,
                "page": _page_key(partition_id)[1],
                "rank": track.rank,
            }
            for track in listed
        ]
    crawled = pd.DataFrame(rows, columns=["id", "track", "artist", "source_tag", "page", "rank"])
    crawled = crawled.astype({"page": "int64", "rank": "int64"})
    duplicates = int(crawled["id"].duplicated().sum())
    if duplicates:
        logger.info("%d duplicate listings in the crawl; the first listing wins", duplicates)
    return crawled.drop_duplicates("id", keep="first").reset_index(drop=True)


def build_vad_lexicon(vad_lexicon_source: pd.DataFrame) -> pd.DataFrame:
    """The lexicon keyed by normalised word: ``word, valence, arousal, dominance`` in [0, 1].

    Entries that normalise to the same word keep the first one (file order).
    """
    lexicon = vad_lexicon_source.assign(word=vad_lexicon_source["word"].map(normalise_tag))
    lexicon = lexicon[lexicon["word"] != ""]
    collisions = int(lexicon["word"].duplicated().sum())
    if collisions:
        logger.warning(
            "%d lexicon entries repeat a word after normalisation; kept the first", collisions
        )
    lexicon = lexicon.drop_duplicates("word", keep="first").reset_index(drop=True)
    lexicon = lexicon[["word", *VAD_LABELS]].astype({label: "float64" for label in VAD_LABELS})
    scores = lexicon[list(VAD_LABELS)].to_numpy()
    if lexicon.empty or np.isnan(scores).any() or (scores < 0).any() or (scores > 1).any():
        raise DataValidationError("vad_lexicon must be non-empty with scores in [0, 1], no NaN")
    return lexicon


def _parse_tag_response(body: Any) -> tuple[str, str, list[tuple[str, int]]]:
    """``(status, detail, [(name, count), ...])`` of one ``track.getTopTags`` body."""
    if isinstance(body, dict) and "error" in body:
        return DropReason.LASTFM_ERROR, f"error {body.get('error')}: {body.get('message')}", []
    try:
        tags = parse_top_tags(body)
    except MalformedAnswer as error:
        return DropReason.MALFORMED_TAG_RESPONSE, str(error), []
    if not tags:
        return DropReason.NO_TAGS, "Last.fm lists no tags for this track", []
    return "ok", "", tags


def parse_track_tags(
    crawled_tracks: pd.DataFrame, track_top_tags: Partitions
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every crawled track's ``track.getTopTags`` response.

    Returns ``track_tags`` (long: ``id, position, name, tag, count``; ``name`` as on Last.fm,
    ``tag`` normalised) and ``tag_responses`` (one row per crawled track: ``id, status,
    detail, n_tags``; status ``ok`` or the ``DropReason``).
    """
    tag_rows: list[tuple[str, int, str, str, int]] = []
    status_rows = []
    for track_id in crawled_tracks["id"]:
        load = track_top_tags.get(track_id)
        if load is None:
            status, detail, tags = DropReason.NO_TAG_RESPONSE, "no track.getTopTags file", []
        else:
            try:
                body = load()
            except Exception as exc:  # a truncated or non-JSON file is one track's problem
                status, detail, tags = DropReason.MALFORMED_TAG_RESPONSE, str(exc)[-200:], []
            else:
                status, detail, tags = _parse_tag_response(body)
        status_rows.append((track_id, status, detail, len(tags)))
        tag_rows.extend(
            (track_id, position, name, normalise_tag(name), count)
            for position, (name, count) in enumerate(tags)
        )
    track_tags = pd.DataFrame(tag_rows, columns=["id", "position", "name", "tag", "count"])
    tag_responses = pd.DataFrame(status_rows, columns=["id", "status", "detail", "n_tags"])
    return (
        track_tags.astype({"position": "int64", "count": "int64"}),
        tag_responses.astype({"n_tags": "int64"}),
    )


TAG_DECISION_COLUMNS = ("id", "tag", "count", "tag_class", "rule", "in_lexicon", "used")


def label_tracks(
    tag_responses: pd.DataFrame,
    track_tags: pd.DataFrame,
    vad_lexicon: pd.DataFrame,
    *,
    tag_filter: str,
    stop_list: Sequence[str],
    affect_words: Sequence[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Label each track with the thesis's count-weighted mean VAD of its mood tags.

    ``tag_filter`` picks the tags that may label: ``stop_list`` (the thesis: all but
    ``stop_list``) or ``affect`` (only tags naming a feeling, ``tag_filter.AffectFilter``, with
    the user's ``affect_words`` added). Returns ``track_labels``, one row per crawled track:
    ``id, n_mood_tags, weighted_mood`` (JSON ``{tag: count}``, descending count), ``valence,
    arousal, dominance`` (NaN when dropped), ``drop_reason, drop_detail`` (empty when
    labelled); and ``tag_decisions``, one row per (track, normalised tag): ``id, tag, count,
    tag_class, rule, in_lexicon, used`` (``used``: it is one of the label's mood tags).
    """
    decider = make_tag_filter(tag_filter, stop_set(stop_list), affect_words)
    lexicon = {
        word: (v, a, d)
        for word, v, a, d in vad_lexicon[["word", *VAD_LABELS]].itertuples(index=False)
    }
    aliases = lexicon_aliases(track_tags["tag"].unique(), lexicon) if tag_filter == "affect" else {}
    tags_by_id = {
        track_id: list(zip(group["name"], group["count"], strict=True))
        for track_id, group in track_tags.sort_values(["id", "position"]).groupby("id", sort=False)
    }
    rows, decision_rows = [], []
    for track_id, status, detail in tag_responses[["id", "status", "detail"]].itertuples(
        index=False
    ):
        row: dict[str, Any] = {"id": track_id, "n_mood_tags": 0, "weighted_mood": "{}"}
        row.update(dict.fromkeys(VAD_LABELS, np.nan))
        if status != "ok":
            row.update(drop_reason=status, drop_detail=detail)
            rows.append(row)
            continue
        tags = tags_by_id.get(track_id, [])
        decisions = _tag_decisions(track_id, tags, decider, lexicon, aliases)
        decision_rows.extend(decisions)
        label = label_track(tags, lexicon, decider, aliases)
        if isinstance(label, str):
            blocked = [d for d in decisions if d[5] and not d[6]]  # in the lexicon, filtered
            if label == DropReason.NO_MOOD_TAGS and blocked and tag_filter == "affect":
                label = DropReason.ONLY_NON_AFFECT_TAGS
                listed = ", ".join(f"{d[1]} ({d[3]})" for d in blocked[:5])
                row.update(drop_reason=label, drop_detail=f"only non-affect tags: {listed}")
            else:
                row.update(drop_reason=label, drop_detail=_label_detail(label))
        else:
            row.update(
                n_mood_tags=len(label.weighted_mood),
                weighted_mood=label.weighted_mood_json,
                valence=label.valence,
                arousal=label.arousal,
                dominance=label.dominance,
                drop_reason="",
                drop_detail="",
            )
        rows.append(row)
    columns = ["id", "n_mood_tags", "weighted_mood", *VAD_LABELS, "drop_reason", "drop_detail"]
    labels = pd.DataFrame(rows, columns=columns).astype({"n_mood_tags": "int64"})
    decisions = pd.DataFrame(decision_rows, columns=list(TAG_DECISION_COLUMNS))
    decisions = decisions.astype({"count": "int64", "in_lexicon": "bool", "used": "bool"})
    return labels, decisions


def _tag_decisions(
    track_id: str,
    tags: Sequence[tuple[str, int]],
    decider: Any,
    lexicon: Mapping[str, Any],
    aliases: Mapping[str, str],
) -> list[tuple[str, str, int, str, str, bool, bool]]:
    """One ``TAG_DECISION_COLUMNS`` row per normalised tag of one track (counts summed)."""
    counts: dict[str, int] = {}
    for name, count in tags:
        tag = normalise_tag(name)
        tag = aliases.get(tag, tag)
        if tag:
            counts[tag] = counts.get(tag, 0) + int(count)
    rows = []
    for tag, count in counts.items():
        decision = decider.decide(tag)
        in_lexicon = tag in lexicon
        used = decision.kept and in_lexicon and count > 0
        rows.append((track_id, tag, count, decision.tag_class, decision.rule, in_lexicon, used))
    return rows


def _label_detail(reason: str) -> str:
    if reason == DropReason.NO_MOOD_TAGS:
        return "no tag kept by the tag filter is in the lexicon"
    return "every mood tag has count 0"


def _spotify_items(body: Any) -> list[Any] | None:
    tracks = body.get("tracks") if isinstance(body, dict) else None
    items = tracks.get("items") if isinstance(tracks, dict) else None
    return items if isinstance(items, list) else None


def match_spotify(
    crawled_tracks: pd.DataFrame, spotify_search: Partitions, match_threshold: float
) -> pd.DataFrame:
    """Pick each track's Spotify item from its saved search response with
    ``matching.best_match`` (artist and title similarity above ``match_threshold``).

    Output, one row per crawled track: ``id, spotify_id, spotify_track, spotify_artist,
    spotify_artist_ids`` (comma-separated), ``duration_ms, match_score, drop_reason,
    drop_detail``.
    """
    rows = []
    for track_id, title, artist in crawled_tracks[["id", "track", "artist"]].itertuples(
        index=False
    ):
        row: dict[str, Any] = {
            "id": track_id,
            "spotify_id": "",
            "spotify_track": "",
            "spotify_artist": "",
            "spotify_artist_ids": "",
            "duration_ms": 0,
            "match_score": 0.0,
            "drop_reason": "",
            "drop_detail": "",
        }
        load = spotify_search.get(track_id)
        try:
            items = _spotify_items(load()) if load is not None else None
        except Exception as exc:  # a truncated or non-JSON file is one track's problem
            items, error = None, str(exc)[-200:]
        else:
            error = "no tracks.items list in the search body"
        if load is None:
            row.update(drop_reason=DropReason.NO_SPOTIFY_RESPONSE, drop_detail="no search file")
        elif items is None:
            row.update(drop_reason=DropReason.MALFORMED_SPOTIFY_RESPONSE, drop_detail=error)
        else:
            item, score = best_match(artist, title, items, threshold=match_threshold)
            duration = item.get("duration_ms") if item is not None else None
            row["match_score"] = score
            if item is None:
                row.update(
                    drop_reason=DropReason.NO_SPOTIFY_MATCH,
                    drop_detail=f"best score {score:.2f} < {match_threshold}",
                )
            elif isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
                detail = f"matched item has no valid duration_ms: {duration!r}"
                row.update(drop_reason=DropReason.MALFORMED_SPOTIFY_RESPONSE, drop_detail=detail)
            else:
                credited = [a for a in item.get("artists") or [] if isinstance(a, Mapping)]
                row.update(
                    spotify_id=str(item["id"]),
                    spotify_track=str(item.get("name", "")),
                    spotify_artist=", ".join(str(a.get("name", "")) for a in credited),
                    spotify_artist_ids=",".join(str(a["id"]) for a in credited if a.get("id")),
                    duration_ms=duration,
                )
        rows.append(row)
    return pd.DataFrame(rows).astype({"duration_ms": "int64", "match_score": "float64"})


def join_track_status(
    crawled_tracks: pd.DataFrame,
    track_labels: pd.DataFrame,
    spotify_matches: pd.DataFrame,
    audio_files: Mapping[str, str],
) -> pd.DataFrame:
    """One row per crawled track with everything known about it and how far it got.

    ``last_step`` is the last funnel step (``STEPS``) the track passed; ``drop_reason`` and
    ``drop_detail`` say why it stopped there (empty for kept tracks).
    """
    status = crawled_tracks.merge(track_labels, on="id", how="left", validate="one_to_one")
    status = status.merge(
        spotify_matches, on="id", how="left", validate="one_to_one", suffixes=("", "_spotify")
    )
    status["audio_path"] = status["id"].map(lambda i: audio_files.get(i, "")).astype("str")
    has_tag_response = ~status["drop_reason"].isin(
        [
            DropReason.NO_TAG_RESPONSE,
            DropReason.LASTFM_ERROR,
            DropReason.MALFORMED_TAG_RESPONSE,
            DropReason.NO_TAGS,
        ]
    )
    labelled = status["drop_reason"] == ""
    matched = labelled & (status["drop_reason_spotify"] == "")
    with_audio = matched & (status["audio_path"] != "")
    passed = [
        pd.Series(True, index=status.index),
        has_tag_response,
        labelled,
        matched,
        with_audio,
        with_audio,
    ]
    status["last_step"] = [STEPS[sum(bool(p[i]) for p in passed) - 1] for i in range(len(status))]
    spotify_failed = labelled & ~matched
    status.loc[spotify_failed, "drop_reason"] = status.loc[spotify_failed, "drop_reason_spotify"]
    status.loc[spotify_failed, "drop_detail"] = status.loc[spotify_failed, "drop_detail_spotify"]
    no_audio = matched & ~with_audio
    status.loc[no_audio, "drop_reason"] = DropReason.NO_AUDIO_FILE
    status.loc[no_audio, "drop_detail"] = "no file named <id>.* in the audio folder"
    return status.drop(columns=["drop_reason_spotify", "drop_detail_spotify"])


def validate_soundtracks(soundtracks: pd.DataFrame) -> None:
    """Raise ``DataValidationError`` unless ids are unique, VAD in [0, 1], nothing is NaN
    (except the VAD labels of quadrant-labelled tracks, which have none), and the columns,
    splits and quadrants are those of the contract."""
    problems = []
    if list(soundtracks.columns) != list(SOUNDTRACK_COLUMNS):
        problems.append(f"columns {list(soundtracks.columns)} != {list(SOUNDTRACK_COLUMNS)}")
    else:
        if soundtracks.empty:
            problems.append("no track survived dataset creation")
        duplicated = soundtracks.loc[soundtracks["id"].duplicated(), "id"].tolist()
        if duplicated:
            problems.append(f"duplicate ids {duplicated[:5]}")
        by_quadrant = soundtracks["quadrant"].fillna("").astype(str) != ""
        unlabelled = soundtracks.drop(columns=list(VAD_LABELS))
        nan_columns = unlabelled.columns[unlabelled.isna().any()].tolist()
        if nan_columns:
            problems.append(f"NaN in {nan_columns}")
        for label in VAD_LABELS:
            values = soundtracks.loc[~by_quadrant, label]
            out = soundtracks.loc[~by_quadrant & ~values.between(0.0, 1.0), "id"].tolist()
            if out:
                problems.append(f"{label} missing or outside [0, 1] for {out[:5]}")
        bad_quadrant = sorted(set(soundtracks.loc[by_quadrant, "quadrant"]) - set(QUADRANTS))
        if bad_quadrant:
            problems.append(f"unknown quadrant values {bad_quadrant}; known: {list(QUADRANTS)}")
        bad_split = sorted(set(soundtracks["split"]) - set(SPLITS))
        if bad_split:
            problems.append(f"unknown split values {bad_split}")
    if problems:
        raise DataValidationError("soundtracks violates its contract: " + "; ".join(problems))


def build_soundtracks(track_status: pd.DataFrame, split: Mapping[str, Any]) -> pd.DataFrame:
    """The kept tracks with their split: exactly ``SOUNDTRACK_COLUMNS``, validated.

    ``split``: ``validation_fraction``, ``test_fraction``, ``seed``, ``group_by`` (see
    ``splitting.split_groups``; default ``artists``: tracks sharing any credited artist or
    Spotify artist id share a split).
    """
    unknown = set(split) - {"validation_fraction", "test_fraction", "seed", "group_by"}
    if unknown:
        hint = " (group_by_artist is now group_by)" if "group_by_artist" in unknown else ""
        raise ParameterError(f"unknown split parameters: {sorted(unknown)}{hint}")
    missing = {"validation_fraction", "test_fraction", "seed"} - set(split)
    if missing:
        raise ParameterError(f"dataset_creation.split lacks {sorted(missing)}")
    kept = track_status[track_status["last_step"] == "kept"].copy()
    groups = split_groups(
        kept["id"].tolist(),
        kept["artist"].tolist(),
        kept.get("spotify_artist_ids", pd.Series("", index=kept.index)).tolist(),
        group_by=str(split.get("group_by", "artists")),
    )
    kept["split"] = assign_splits(
        groups,
        validation_fraction=float(split["validation_fraction"]),
        test_fraction=float(split["test_fraction"]),
        seed=int(split["seed"]),
    )
    kept["corpus"] = LASTFM_CORPUS
    kept["quadrant"] = ""
    soundtracks = kept[list(SOUNDTRACK_COLUMNS)].reset_index(drop=True)
    soundtracks = soundtracks.astype(
        {
            "id": "str",
            "track": "str",
            "artist": "str",
            "duration_ms": "int64",
            "weighted_mood": "str",
            "spotify_id": "str",
            "audio_path": "str",
            **dict.fromkeys(VAD_LABELS, "float64"),
            "n_mood_tags": "int64",
            "split": "str",
            "corpus": "str",
            "quadrant": "str",
        }
    )
    validate_soundtracks(soundtracks)
    return soundtracks


HEAVIEST_DROPPED_TAGS = 25


def summarise_tag_filter(
    tag_decisions: pd.DataFrame, track_status: pd.DataFrame, tag_filter: str
) -> dict[str, Any]:
    """What the tag filter removed, as weight shares (count-weighted, all labelled tracks).

    ``label_weight_removed_share``: of the weight of tags in the lexicon (what an unfiltered
    label would average), the share the filter dropped; ``tag_weight_dropped_share``: the
    same over all tags; ``heaviest_dropped_tags``: by weight, with class and share of all
    tag weight; ``tracks_left_without_label``: tracks dropped because only non-affect
    (filtered) lexicon tags were left.
    """
    weight = tag_decisions["count"].astype("float64")
    total = float(weight.sum())
    kept_classes = {TagClass.AFFECT, TagClass.NOT_STOP_LISTED}
    dropped = tag_decisions[~tag_decisions["tag_class"].isin(kept_classes)]
    in_lexicon = tag_decisions["in_lexicon"]
    lexicon_total = float(weight[in_lexicon].sum())
    lexicon_dropped = float(dropped.loc[dropped["in_lexicon"], "count"].sum())
    heaviest = (
        dropped.groupby(["tag", "tag_class", "rule"], as_index=False)
        .agg(weight=("count", "sum"), n_tracks=("id", "nunique"), in_lexicon=("in_lexicon", "any"))
        .sort_values(["weight", "tag"], ascending=[False, True])
        .head(HEAVIEST_DROPPED_TAGS)
    )
    by_class = dropped.groupby("tag_class")["count"].sum().sort_values(ascending=False)

    def share(x: float, of: float) -> float:
        return round(x / of, 6) if of > 0 else 0.0

    lost = {DropReason.ONLY_NON_AFFECT_TAGS} if tag_filter == "affect" else set()
    return {
        "tag_filter": tag_filter,
        "vocabulary_version": VOCABULARY_VERSION if tag_filter == "affect" else "thesis",
        "label_weight_removed_share": share(lexicon_dropped, lexicon_total),
        "tag_weight_dropped_share": share(float(dropped["count"].sum()), total),
        "dropped_weight_share_by_class": {
            str(c): share(float(w), total) for c, w in by_class.items()
        },
        "heaviest_dropped_tags": [
            {
                "tag": row.tag,
                "class": row.tag_class,
                "rule": row.rule,
                "weight_share": share(float(row.weight), total),
                "n_tracks": int(row.n_tracks),
                "in_lexicon": bool(row.in_lexicon),
            }
            for row in heaviest.itertuples(index=False)
        ],
        "tracks_left_without_label": int(track_status["drop_reason"].isin(lost).sum()),
    }


def build_dataset_report(
    track_status: pd.DataFrame,
    soundtracks: pd.DataFrame,
    vad_lexicon: pd.DataFrame,
    tag_decisions: pd.DataFrame,
    *,
    tag_filter: str,
    split: Mapping[str, Any],
) -> dict[str, Any]:
    """The dataset report: the funnel counts (``STEPS``), every dropped track with its step
    and reason, the split sizes (and a check that no artist group spans two splits), what
    the tag filter removed (``summarise_tag_filter``) and the label statistics."""
    group_by = str(split.get("group_by", "artists"))
    kept = track_status.set_index("id").loc[soundtracks["id"]]
    groups = split_groups(
        soundtracks["id"].tolist(),
        soundtracks["artist"].tolist(),
        kept.get("spotify_artist_ids", pd.Series("", index=kept.index)).tolist(),
        group_by=group_by,
    )
    spanning = groups_spanning_splits(groups, soundtracks["split"].tolist())
    if spanning:  # assign_splits never does this: a bug, not a data problem
        raise DataValidationError(f"split groups span two splits: {spanning[:5]}")
    reached = track_status["last_step"].map(STEPS.index)
    counts = {step: int((reached >= i).sum()) for i, step in enumerate(STEPS)}
    dropped = track_status[track_status["last_step"] != "kept"]
    return {
        "counts": counts,
        "dropped_by_reason": {
            str(k): int(v) for k, v in dropped["drop_reason"].value_counts().sort_index().items()
        },
        "dropped": [
            {
                "id": row.id,
                "track": row.track,
                "artist": row.artist,
                "failed_step": STEPS[STEPS.index(row.last_step) + 1],
                "reason": row.drop_reason,
                "detail": row.drop_detail,
            }
            for row in dropped.itertuples(index=False)
        ],
        "splits": {s: int((soundtracks["split"] == s).sum()) for s in SPLITS},
        "artists_per_split": {
            s: int(soundtracks.loc[soundtracks["split"] == s, "artist"].nunique()) for s in SPLITS
        },
        "split_groups": {
            "group_by": group_by,
            "groups": len(set(groups)),
            "groups_spanning_two_splits": len(spanning),
            "statement": f"no {group_by} group spans two splits",
        },
        "tag_filter": summarise_tag_filter(tag_decisions, track_status, tag_filter),
        "labels": label_statistics(soundtracks),
        "mood_tags_per_track": round(float(soundtracks["n_mood_tags"].mean()), 3),
        "lexicon_words": len(vad_lexicon),
    }


def label_statistics(soundtracks: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean, population std, min and max of each VAD label, for the dataset report."""
    return {
        label: {
            "mean": round(float(soundtracks[label].mean()), 6),
            "std": round(float(soundtracks[label].std(ddof=0)), 6),
            "min": round(float(soundtracks[label].min()), 6),
            "max": round(float(soundtracks[label].max()), 6),
        }
        for label in VAD_LABELS
    }
