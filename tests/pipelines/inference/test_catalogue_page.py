"""The catalogue page's data and HTML (the browser behaviour: test_catalogue_page_browser.py)."""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest

from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import DataValidationError
from soundtrack_emotion.pipelines.inference.page import (
    build_catalogue_page,
    catalogue_page_data,
    script_json,
)

HOSTILE = "</script><script>alert('x')</script><!-- & \u2028"


def _embedded(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="catalogue-data">(.*?)</script>', page, re.S
    )
    assert match, "no data element"
    return json.loads(match.group(1))


def _records(columns, rows):
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _movie(movie_id, title, tracks, year=2000):
    return {"movie_id": movie_id, "title": title, "year": year, "genre": "drama",
            "tracks": tracks}  # fmt: skip


def _ok(name, seconds, v, a, d, flag=None):
    return (name, seconds, v, a, d, "ok", flag)


def test_names_from_the_catalogue_cannot_close_the_script_nor_open_markup(catalogue_outputs):
    movies = [_movie("m1", HOSTILE, [_ok(HOSTILE, 60.0, 0.2, 0.3, 0.4)])]
    page = build_catalogue_page(*catalogue_outputs(movies))

    # The data element and the page script: the only two script closings.
    assert page.count("</script>") == 2
    assert "<!--" not in page and "<script>alert" not in page
    data = _embedded(page)
    (movie,) = _records(data["movie_columns"], data["movies"])
    assert movie["title"] == HOSTILE
    assert _records(data["track_columns"], data["tracks"]["m1"])[0]["track"] == HOSTILE


def test_script_json_escapes_every_markup_character_and_refuses_nan():
    text = script_json({"a": "<b>&</b>\u2029"})
    assert not set("<>&") & set(text) and "\u2029" not in text
    assert json.loads(text) == {"a": "<b>&</b>\u2029"}
    with pytest.raises(ValueError):
        script_json({"a": float("nan")})


def test_an_empty_catalogue_is_a_page_without_movies(catalogue_outputs):
    page = build_catalogue_page(*catalogue_outputs([]))

    data = _embedded(page)
    assert data["movies"] == [] and data["tracks"] == {} and data["arcs"] == {}
    assert data["demo"] is False and page.startswith("<!DOCTYPE html>")


def test_a_movie_whose_tracks_all_failed_keeps_its_rows_and_reasons(catalogue_outputs):
    failed = [("01 broken", 0.0, 0, 0, 0, "error", None), ("02 empty", 0.0, 0, 0, 0, "error", None)]
    movies = [_movie("ok", "Fine", [_ok("01 a", 90.0, 0.7, 0.6, 0.5)]),
              _movie("bad", "Broken", failed)]  # fmt: skip
    data = catalogue_page_data(*catalogue_outputs(movies))

    movie = {m["id"]: m for m in _records(data["movie_columns"], data["movies"])}
    assert movie["bad"]["n_tracks"] == 2 and movie["bad"]["n_failed"] == 2
    assert all(movie["bad"][f"{label}_mean"] is None for label in VAD_LABELS)
    assert movie["ok"]["valence_mean"] == pytest.approx(0.7)
    assert data["arcs"]["bad"] == []
    tracks = _records(data["track_columns"], data["tracks"]["bad"])
    assert [t["status"] for t in tracks] == ["error", "error"]
    assert all(t["error"] and t["valence"] is None for t in tracks)


def test_intervals_are_shown_where_the_tables_carry_them_and_null_elsewhere(catalogue_outputs):
    movies = [_movie("m1", "One", [_ok("01 a", 60.0, 0.2, 0.3, 0.4, True),
                                   _ok("02 b", 30.0, 0.6, 0.5, 0.4, False)])]  # fmt: skip

    without = catalogue_page_data(*catalogue_outputs(movies))
    assert without["intervals"] == {"movie": False, "track": False, "level": None}
    (track, _) = _records(without["track_columns"], without["tracks"]["m1"])
    assert track["valence_low"] is None and track["out_of_domain"] is True
    assert track["domain_score"] == pytest.approx(1.4)

    with_intervals = catalogue_page_data(*catalogue_outputs(movies, intervals=True))
    # the nominal level travels with the intervals (the page says "90% interval")
    assert with_intervals["intervals"] == {"movie": True, "track": True, "level": 0.9}
    (movie,) = _records(with_intervals["movie_columns"], with_intervals["movies"])
    assert movie["valence_low"] == pytest.approx(movie["valence_mean"] - 0.05)
    arc = _records(with_intervals["arc_columns"], with_intervals["arcs"]["m1"])
    # The arc has no interval column of its own: the tracks' are joined by position.
    assert [a["valence_high"] for a in arc] == pytest.approx([0.3, 0.7])
    assert [a["album_start_s"] for a in arc] == pytest.approx([0.0, 60.0])
    assert [a["out_of_domain"] for a in arc] == [True, False]


def test_demo_models_get_the_banner_and_real_ones_do_not(catalogue_outputs):
    movies = [_movie("m1", "One", [_ok("01 a", 60.0, 0.2, 0.3, 0.4)])]
    demo_page = build_catalogue_page(*catalogue_outputs(movies, demo=True))
    real_page = build_catalogue_page(*catalogue_outputs(movies, demo=False))

    assert 'id="demo-banner"' in demo_page and "DEMO: synthetic data" in demo_page
    assert 'id="demo-banner"' not in real_page
    (movie,) = _records(_embedded(demo_page)["movie_columns"], _embedded(demo_page)["movies"])
    assert movie["demo"] is True and movie["model_short"] == "MFCC Ridge"


def test_the_table_read_back_from_csv_gives_the_same_page(catalogue_outputs):
    movies = [_movie("m1", "One", [_ok("01 a", 60.0, 0.2, 0.3, 0.4)], year=1999)]
    table, track_vad, arcs = catalogue_outputs(movies)
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    read_back = pd.read_csv(io.StringIO(buffer.getvalue()))

    assert catalogue_page_data(read_back, track_vad, arcs) == catalogue_page_data(
        table, track_vad, arcs
    )
    assert catalogue_page_data(table, track_vad, arcs)["extras"] == ["year", "genre"]


def test_a_movie_without_its_partitions_is_named(catalogue_outputs):
    movies = [_movie("m1", "One", [_ok("01 a", 60.0, 0.2, 0.3, 0.4)])]
    table, track_vad, _ = catalogue_outputs(movies)

    with pytest.raises(DataValidationError, match=r"'m1'.*movie_arcs"):
        catalogue_page_data(table, track_vad, {})


def test_the_page_grows_linearly_with_the_catalogue(catalogue_outputs, demo_like_movies):
    movies = demo_like_movies(120)
    small = len(build_catalogue_page(*catalogue_outputs(movies[:60])))
    large = len(build_catalogue_page(*catalogue_outputs(movies)))
    script = len(build_catalogue_page(*catalogue_outputs([])))

    assert (large - script) / (small - script) == pytest.approx(2, rel=0.15)
    # About 1.4 kB per movie of ~9 tracks: 10,000 movies are ~15 MB.
    assert (large - script) / 120 < 2500
