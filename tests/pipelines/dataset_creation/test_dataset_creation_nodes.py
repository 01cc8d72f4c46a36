"""dataset_creation nodes on hand-made raw responses: every kind of bad entry is dropped with
its reason, and the output contract is enforced."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.labelling import DropReason
from soundtrack_emotion.core.matching import make_track_id
from soundtrack_emotion.exceptions import DataValidationError, ParameterError
from soundtrack_emotion.pipelines.dataset_creation.nodes import (
    SOUNDTRACK_COLUMNS,
    build_dataset_report,
    build_soundtracks,
    collect_crawled_tracks,
    join_track_status,
    label_tracks,
    match_spotify,
    parse_track_tags,
    validate_soundtracks,
)

LEXICON = pd.DataFrame(
    {
        "word": ["sad", "happy", "rock"],
        "valence": [0.2, 1.0, 0.5],
        "arousal": [0.4, 0.8, 0.9],
        "dominance": [0.1, 0.7, 0.9],
    }
)
SPLIT = {"validation_fraction": 0.25, "test_fraction": 0.25, "seed": 0, "group_by": "track"}


def _partitions(bodies: dict) -> dict:
    def loader(body):
        def load():
            if isinstance(body, Exception):
                raise body
            return body

        return load

    return {key: loader(body) for key, body in bodies.items()}


def _page(tag: str, page: int, tracks: list[tuple[str, str]], per_page: int = 50) -> dict:
    entries = [
        {
            "name": title,
            "artist": {"name": artist, "mbid": "", "url": ""},
            "@attr": {"rank": str((page - 1) * per_page + i + 1)},
        }
        for i, (title, artist) in enumerate(tracks)
    ]
    return {"tracks": {"track": entries, "@attr": {"tag": tag, "page": str(page)}}}


def _top_tags(*tags: tuple[str, int]) -> dict:
    return {
        "toptags": {
            "tag": [{"count": c, "name": n, "url": ""} for n, c in tags],
            "@attr": {"artist": "a", "track": "t"},
        }
    }


def _search(*items: tuple[str, str, str, int]) -> dict:
    return {
        "tracks": {
            "href": "",
            "limit": 10,
            "next": None,
            "offset": 0,
            "previous": None,
            "total": len(items),
            "items": [
                {"id": i, "name": n, "artists": [{"name": a}], "duration_ms": d}
                for i, n, a, d in items
            ],
        }
    }


def test_crawl_is_deduplicated_in_page_order_and_single_objects_are_lists():
    pages = _partitions(
        {
            "soundtrack/page-0010": _page("soundtrack", 10, [("Late", "Zed")], per_page=1),
            "soundtrack/page-0002": _page("soundtrack", 2, [("Aria", "Mo"), ("ARIA ", "mo")]),
            "soundtrack/page-0001": {
                "tracks": {
                    "track": {"name": "One", "artist": {"name": "X"}, "@attr": {"rank": "1"}},
                    "@attr": {"tag": "soundtrack"},
                }
            },
        }
    )
    crawled = collect_crawled_tracks(pages)
    assert crawled["track"].tolist() == ["One", "Aria", "Late"]  # page 10 after page 2
    assert crawled["id"].tolist()[1] == make_track_id("Mo", "Aria")
    assert crawled["rank"].tolist() == [1, 51, 10]
    assert crawled["page"].dtype == "int64"


@pytest.mark.parametrize(
    "body", [{"error": 6, "message": "Tag not found"}, {"tracks": {"track": [{"name": "x"}]}}]
)
def test_broken_crawl_page_raises(body):
    with pytest.raises(DataValidationError, match="page-0001"):
        collect_crawled_tracks(_partitions({"soundtrack/page-0001": body}))


def _crawled(*ids: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list(ids),
            "track": [f"Title {i}" for i in ids],
            "artist": [f"Artist {i}" for i in ids],
        }
    )


def test_tag_responses_record_every_problem():
    crawled = _crawled("ok", "missing", "error", "broken", "empty", "badcount", "strcount")
    responses = _partitions(
        {
            "ok": _top_tags(("Sad", 100), ("rock", 40)),
            "error": {"error": 6, "message": "Track not found"},
            "broken": json.JSONDecodeError("Expecting value", "", 0),
            "empty": _top_tags(),
            "badcount": _top_tags(("sad", -3)),
            "strcount": _top_tags(("sad", "12")),
        }
    )
    track_tags, status = parse_track_tags(crawled, responses)
    assert dict(zip(status["id"], status["status"], strict=True)) == {
        "ok": "ok",
        "missing": DropReason.NO_TAG_RESPONSE,
        "error": DropReason.LASTFM_ERROR,
        "broken": DropReason.MALFORMED_TAG_RESPONSE,
        "empty": DropReason.NO_TAGS,
        "badcount": DropReason.MALFORMED_TAG_RESPONSE,
        "strcount": "ok",
    }
    assert "Track not found" in status.set_index("id").loc["error", "detail"]
    assert track_tags[track_tags["id"] == "ok"][["name", "tag", "count"]].values.tolist() == [
        ["Sad", "sad", 100],
        ["rock", "rock", 40],
    ]
    assert track_tags["count"].dtype == "int64"


def test_labels_drop_tracks_without_mood_weight():
    crawled = _crawled("good", "genre", "zero", "gone")
    track_tags, status = parse_track_tags(
        crawled,
        _partitions(
            {
                "good": _top_tags(("soundtrack", 100), ("Happy", 30), ("sad ", 10)),
                "genre": _top_tags(("soundtrack", 100), ("rock", 20)),
                "zero": _top_tags(("sad", 0), ("happy", 0)),
            }
        ),
    )
    labels, _ = label_tracks(
        status, track_tags, LEXICON, tag_filter="stop_list", stop_list=["soundtrack", "rock"]
    )
    labels = labels.set_index("id")
    assert labels.loc["good", "valence"] == pytest.approx(0.8)
    assert json.loads(labels.loc["good", "weighted_mood"]) == {"happy": 30, "sad": 10}
    assert labels.loc["good", "n_mood_tags"] == 2
    assert labels["drop_reason"].to_dict() == {
        "good": "",
        "genre": DropReason.NO_MOOD_TAGS,
        "zero": DropReason.ZERO_MOOD_WEIGHT,
        "gone": DropReason.NO_TAG_RESPONSE,
    }
    assert np.isnan(labels.loc["genre", "valence"])


def test_spotify_match_takes_the_best_item_above_the_threshold():
    crawled = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "track": ["Night Drive (Main Theme)", "Dawn", "Dusk", "Noon", "Eve"],
            "artist": ["Mara Vel", "Ivo Kest", "Ivo Kest", "Ivo Kest", "Ivo Kest"],
        }
    )
    searches = _partitions(
        {
            "a": _search(
                ("cover", "Night Drive", "Someone Else", 1000),
                ("right", "Night Drive - Remastered 2011", "Mara Vel", 200_000),
            ),
            "b": _search(("other", "Another Song", "Another Artist", 1000)),
            "c": {"tracks": {"total": 0}},
            "e": _search(("nodur", "Eve", "Ivo Kest", None)),
        }
    )
    matches = match_spotify(crawled, searches, 0.6).set_index("id")
    assert matches.loc["a", ["spotify_id", "duration_ms"]].tolist() == ["right", 200_000]
    assert matches["drop_reason"].to_dict() == {
        "a": "",
        "b": DropReason.NO_SPOTIFY_MATCH,
        "c": DropReason.MALFORMED_SPOTIFY_RESPONSE,
        "d": DropReason.NO_SPOTIFY_RESPONSE,
        "e": DropReason.MALFORMED_SPOTIFY_RESPONSE,
    }
    assert "< 0.6" in matches.loc["b", "drop_detail"]


def _status_inputs():
    crawled = _crawled("kept1", "kept2", "kept3", "kept4", "notags", "nospotify", "noaudio")
    bodies = {i: _top_tags(("happy", 10), ("sad", 30)) for i in crawled["id"] if i != "notags"}
    track_tags, status = parse_track_tags(crawled, _partitions(bodies))
    labels, decisions = label_tracks(status, track_tags, LEXICON, tag_filter="affect", stop_list=[])
    searches = _partitions(
        {
            i: _search((f"sp-{i}", f"Title {i}", f"Artist {i}", 1234))
            for i in crawled["id"]
            if i != "nospotify"
        }
    )
    matches = match_spotify(crawled, searches, 0.6)
    audio = {i: f"data/01_raw/audio/{i}.wav" for i in crawled["id"] if i != "noaudio"}
    return crawled, labels, matches, audio, decisions


def test_track_status_funnel_soundtracks_and_report():
    inputs = _status_inputs()
    track_status = join_track_status(*inputs[:4])
    assert dict(zip(track_status["id"], track_status["last_step"], strict=True)) == {
        "kept1": "kept",
        "kept2": "kept",
        "kept3": "kept",
        "kept4": "kept",
        "notags": "crawled",
        "nospotify": "with_mood_tags",
        "noaudio": "with_spotify_id",
    }
    soundtracks = build_soundtracks(track_status, SPLIT)
    assert list(soundtracks.columns) == list(SOUNDTRACK_COLUMNS)
    assert soundtracks["id"].tolist() == ["kept1", "kept2", "kept3", "kept4"]
    assert sorted(soundtracks["split"]) == ["test", "train", "train", "validation"]
    row = soundtracks.iloc[0]
    assert (row["spotify_id"], row["duration_ms"], row["audio_path"]) == (
        "sp-kept1",
        1234,
        "data/01_raw/audio/kept1.wav",
    )
    # (1.0 * 10 + 0.2 * 30) / 40
    assert row["valence"] == pytest.approx(0.4)
    assert row["weighted_mood"] == '{"sad": 30, "happy": 10}'
    assert soundtracks.dtypes.astype(str).to_dict() == {
        "id": "str",
        "track": "str",
        "artist": "str",
        "duration_ms": "int64",
        "weighted_mood": "str",
        "spotify_id": "str",
        "audio_path": "str",
        "valence": "float64",
        "arousal": "float64",
        "dominance": "float64",
        "n_mood_tags": "int64",
        "split": "str",
        "corpus": "str",
        "quadrant": "str",
    }

    report = build_dataset_report(
        track_status, soundtracks, LEXICON, inputs[4], tag_filter="affect", split=SPLIT
    )
    assert report["counts"] == {
        "crawled": 7,
        "with_tags": 6,
        "with_mood_tags": 6,
        "with_spotify_id": 5,
        "with_audio": 4,
        "kept": 4,
    }
    assert {(d["id"], d["failed_step"], d["reason"]) for d in report["dropped"]} == {
        ("notags", "with_tags", DropReason.NO_TAG_RESPONSE),
        ("nospotify", "with_spotify_id", DropReason.NO_SPOTIFY_RESPONSE),
        ("noaudio", "with_audio", DropReason.NO_AUDIO_FILE),
    }
    assert report["splits"] == {"train": 2, "validation": 1, "test": 1}
    json.dumps(report)  # plain JSON types only


def test_unknown_split_parameter_is_refused():
    inputs = _status_inputs()
    track_status = join_track_status(*inputs[:4])
    with pytest.raises(ParameterError, match="unknown split parameters"):
        build_soundtracks(track_status, {**SPLIT, "test_fracton": 0.2})
    without_seed = {key: value for key, value in SPLIT.items() if key != "seed"}
    with pytest.raises(ParameterError, match=r"dataset_creation.split lacks \['seed'\]"):
        build_soundtracks(track_status, without_seed)


def _valid_soundtracks() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b"],
            "track": ["A", "B"],
            "artist": ["X", "Y"],
            "duration_ms": [1, 2],
            "weighted_mood": ["{}", "{}"],
            "spotify_id": ["s1", "s2"],
            "audio_path": ["p", "q"],
            "valence": [0.1, 0.2],
            "arousal": [0.3, 0.4],
            "dominance": [0.5, 0.6],
            "n_mood_tags": [1, 2],
            "split": ["train", "test"],
            "corpus": ["lastfm", "lastfm"],
            "quadrant": ["", ""],
        }
    )


@pytest.mark.parametrize(
    ("corrupt", "problem"),
    [
        (lambda df: df.assign(id=["a", "a"]), "duplicate ids"),
        (lambda df: df.assign(valence=[0.1, 1.2]), "valence missing or outside"),
        (lambda df: df.assign(arousal=[np.nan, 0.4]), "arousal missing"),
        (lambda df: df.assign(corpus=[None, "lastfm"]), "NaN in"),
        (lambda df: df.assign(quadrant=["Q5", ""], valence=[np.nan, 0.2]), "unknown quadrant"),
        (lambda df: df.assign(split=["train", "holdout"]), "unknown split"),
        (lambda df: df.drop(columns=["split"]), "columns"),
        (lambda df: df.iloc[:0], "no track survived"),
    ],
)
def test_validation_names_the_violation(corrupt, problem):
    validate_soundtracks(_valid_soundtracks())
    with pytest.raises(DataValidationError, match=problem):
        validate_soundtracks(corrupt(_valid_soundtracks()))


def test_a_quadrant_labelled_track_has_no_vad_values():
    quadrant_row = _valid_soundtracks().assign(
        quadrant=["Q2", ""], valence=[np.nan, 0.2], arousal=[np.nan, 0.4], dominance=[np.nan, 0.6]
    )
    validate_soundtracks(quadrant_row)


def test_empty_tag_list_is_no_tags_for_dataset_creation_and_acquisition():
    from soundtrack_emotion.pipelines.acquisition.responses import count_top_tags

    for empty in ({"toptags": {"tag": ""}}, {"toptags": {"tag": [], "@attr": {}}}):
        _, status = parse_track_tags(_crawled("e"), _partitions({"e": empty}))
        assert status["status"].tolist() == [DropReason.NO_TAGS]
        assert count_top_tags(json.dumps(empty).encode()) == 0
    one = {"toptags": {"tag": {"name": "sad", "count": 3}}}  # a one-tag list, collapsed
    tags, status = parse_track_tags(_crawled("o"), _partitions({"o": one}))
    assert status["status"].tolist() == ["ok"] and tags["tag"].tolist() == ["sad"]
    assert count_top_tags(json.dumps(one).encode()) == 1


def test_bracket_only_titles_and_artists_still_match():
    crawled = pd.DataFrame(
        {
            "id": ["title", "artist"],
            "track": ["(Fork and Knife)", "Agnus Dei"],
            "artist": ["Brandi Carlile", "[Michael W. Smith]"],
        }
    )
    searches = _partitions(
        {
            "title": _search(("ok1", "(Fork and Knife)", "Brandi Carlile", 1000)),
            "artist": _search(("ok2", "Agnus Dei", "Michael W. Smith", 1000)),
        }
    )
    matches = match_spotify(crawled, searches, 0.6).set_index("id")
    assert matches["spotify_id"].to_dict() == {"title": "ok1", "artist": "ok2"}
    assert (matches["match_score"] == 1.0).all()


def test_multi_artist_credits_never_span_two_splits():
    credits = ["Hans Zimmer", "Hans Zimmer & Lisa Gerrard", "Lisa Gerrard", "Hans Zimmer feat. X Y"]
    credits += [f"Solo Artist {i}" for i in range(12)]
    ids = [f"t{i}" for i in range(len(credits))]
    track_status = pd.DataFrame(
        {
            "id": ids,
            "track": ids,
            "artist": credits,
            "duration_ms": 1,
            "weighted_mood": "{}",
            "spotify_id": ids,
            "spotify_artist_ids": ["", "", "", ""] + ["sp-a"] * 2 + [""] * 10,
            "audio_path": "a.wav",
            "valence": 0.5,
            "arousal": 0.5,
            "dominance": 0.5,
            "n_mood_tags": 1,
            "last_step": "kept",
            "drop_reason": "",
            "drop_detail": "",
        }
    )
    for seed in range(20):
        split = {"validation_fraction": 0.25, "test_fraction": 0.25, "seed": seed}
        soundtracks = build_soundtracks(track_status, {**split, "group_by": "artists"})
        zimmer = soundtracks.loc[soundtracks["artist"].str.contains("Zimmer|Gerrard"), "split"]
        assert zimmer.nunique() == 1
        same_spotify_artist = soundtracks.loc[soundtracks["id"].isin(["t4", "t5"]), "split"]
        assert same_spotify_artist.nunique() == 1
    credit = build_soundtracks(track_status, {**split, "group_by": "credit", "seed": 1})
    assert credit.groupby("artist")["split"].nunique().max() == 1
    with pytest.raises(ParameterError, match="group_by_artist is now group_by"):
        build_soundtracks(track_status, {**split, "group_by_artist": True})
