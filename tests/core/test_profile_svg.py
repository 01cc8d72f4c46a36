"""A movie's arc as an SVG document: what it draws, read back from the document itself."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.profile_svg import HEIGHT_PX, WIDTH_PX, movie_profile_svg
from soundtrack_emotion.core.vocabulary import VAD_LABELS

SVG = "{http://www.w3.org/2000/svg}"
LONG_TITLE = "The Lord of the Rings: The Return of the King (Extended Edition)"


def _movie(n_tracks: int, *, flagged: int = 0, intervals: bool = False) -> tuple[pd.DataFrame, ...]:
    """An arc of ``n_tracks`` one-minute tracks (the first ``flagged`` out of domain, with
    valence intervals when ``intervals``) and its profile."""
    values = np.linspace(0.2, 0.8, n_tracks)
    arc = pd.DataFrame({
        "position": np.arange(1, n_tracks + 1),
        "track": [f"cue {i}" for i in range(1, n_tracks + 1)],
        "album_start_s": 60.0 * np.arange(n_tracks),
        "album_end_s": 60.0 * np.arange(1, n_tracks + 1),
        **dict.fromkeys(VAD_LABELS, values),
        "out_of_domain": np.arange(n_tracks) < flagged,
    })  # fmt: skip
    if intervals:
        arc = arc.assign(valence_low=values - 0.1, valence_high=values + 0.1, interval_level=0.9)
    profile = pd.DataFrame({"label": list(VAD_LABELS), "mean": 0.5, "std": 0.1})
    return arc, profile


@pytest.fixture
def album() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three tracks of 1, 2 and 3 minutes (the second unreadable track left out: numbers 1, 3,
    4), valence 0.2, 0.5, 0.8; weighted mean 0.6 ± 0.22."""
    arc = pd.DataFrame({
        "position": [1, 3, 4], "track": ["opening", "chase", "finale"],
        "album_start_s": [0.0, 60.0, 180.0], "album_end_s": [60.0, 180.0, 360.0],
        "valence": [0.2, 0.5, 0.8], "arousal": [0.6, 0.6, 0.6], "dominance": [0.9, 0.3, 0.3],
    })  # fmt: skip
    profile = pd.DataFrame({"label": list(VAD_LABELS), "mean": [0.6, 0.6, 0.4],
                            "std": [0.2236, 0.0, 0.2236]})  # fmt: skip
    return arc, profile


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _panel(root: ET.Element, label: str) -> ET.Element:
    (panel,) = [g for g in root.iter(f"{SVG}g") if g.get("data-label") == label]
    return panel


def _texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def _group(root: ET.Element, css: str) -> ET.Element:
    (group,) = [g for g in root.iter(f"{SVG}g") if g.get("class") == css]
    return group


def _legend(panel: ET.Element) -> list[str]:
    return _texts(_group(panel, "legend"))


def _drawn_steps(panel: ET.Element) -> tuple[np.ndarray, np.ndarray]:
    """The step line's edges as fractions of the plot's width and its values read back from
    pixel rows against the panel's frame."""
    (frame,) = [r for r in panel.iter(f"{SVG}rect") if r.get("stroke")]
    x0, width = float(frame.get("x")), float(frame.get("width"))
    top, height = float(frame.get("y")), float(frame.get("height"))
    (steps,) = [p for p in panel.iter(f"{SVG}path") if p.get("class") == "steps"]
    d = steps.get("d")
    xs = [float(v) for v in re.findall(r"[MH]([\d.]+)", d)]
    ys = [float(re.match(r"M[\d.]+ ([\d.]+)", d).group(1))]
    ys += [float(v) for v in re.findall(r"V([\d.]+)", d)]
    return (np.array(xs) - x0) / width, (top + height - np.array(ys)) / height


def test_a_panel_per_label_on_the_album_clock(album):
    root = _parse(movie_profile_svg(*album, audio_path="/music/Interstellar", title=""))

    assert (root.get("width"), root.get("height")) == (str(WIDTH_PX), str(HEIGHT_PX))
    (title,) = [t for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    assert title.text == "Emotional arc of Interstellar (3 tracks, 6.0 min)"
    panels = [_panel(root, label) for label in VAD_LABELS]
    labels = [next(t.text for t in p.iter(f"{SVG}text") if t.get("class") == "axis-label")
              for p in panels]  # fmt: skip
    assert labels == ["Valence", "Arousal", "Dominance"]
    edges, values = _drawn_steps(panels[0])
    np.testing.assert_allclose(edges, [0, 1 / 6, 3 / 6, 1], atol=1e-3)
    np.testing.assert_allclose(values, [0.2, 0.5, 0.8], atol=2e-3)
    numbers = _group(root, "track-numbers")
    assert _texts(numbers) == ["Track number", "1", "3", "4"]
    assert _texts(_group(root, "time-axis")) == [*"0123456", "Album time (min)"]
    legend = _legend(panels[0])
    assert legend == ["track", "weighted mean 0.60", "± std 0.22"]
    hover = [t.text for t in panels[0].iter(f"{SVG}title")]
    assert hover == ["track 1 opening: valence 0.20", "track 3 chase: valence 0.50",
                     "track 4 finale: valence 0.80"]  # fmt: skip


def test_out_of_domain_tracks_are_hatched_marked_and_counted():
    root = _parse(movie_profile_svg(*_movie(4, flagged=1), audio_path=None, title="Alien"))

    (title,) = [t for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    assert title.text == "Alien (4 tracks, 4.0 min, 1 out of domain)"
    flagged = [t.text for t in root.iter(f"{SVG}text") if "flagged" in (t.get("class") or "")]
    assert flagged == ["1!"]
    valence = _panel(root, "valence")
    (hatched,) = [p for p in valence.iter(f"{SVG}path") if p.get("class") == "out-of-domain"]
    assert hatched.get("fill") == "url(#hatch)"
    assert hatched.get("d").count("Z") == 1  # one span: the flagged track
    assert "out of domain" in _legend(valence)
    hover = [t.text for t in valence.iter(f"{SVG}title")]
    assert "out of domain" in hover[0] and "out of domain" not in hover[1]


def test_intervals_are_shaded_where_the_model_has_them():
    root = _parse(movie_profile_svg(*_movie(3, intervals=True), audio_path=None, title="x"))

    valence, dominance = _panel(root, "valence"), _panel(root, "dominance")
    assert "90% interval" in _legend(valence)
    assert "90% interval" not in _legend(dominance)
    (band,) = [p for p in valence.iter(f"{SVG}path") if p.get("class") == "interval"]
    assert band.get("d").count("Z") == 3
    assert next(t.text for t in valence.iter(f"{SVG}title")) == (
        "track 1 cue 1: valence 0.20, 90% interval 0.10 to 0.30"
    )


def test_a_movie_without_readable_tracks_gets_empty_panels():
    arc, profile = _movie(0)
    profile = pd.DataFrame({"label": list(VAD_LABELS), "n_tracks": 0})

    root = _parse(movie_profile_svg(arc, profile, audio_path="", title=""))

    (title,) = [t for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    assert title.text == "Emotional arc of the demo's test songs (0 tracks, 0.0 min)"
    assert not [p for p in root.iter(f"{SVG}path") if p.get("class") == "steps"]
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"]) == 3


@pytest.mark.parametrize("n_tracks", [1, 12, 400])
def test_every_text_lies_on_the_page_and_numbers_stay_legible(n_tracks):
    root = _parse(movie_profile_svg(*_movie(n_tracks, flagged=min(n_tracks, 2), intervals=True),
                                    audio_path=None, title=LONG_TITLE * 3))  # fmt: skip

    for text in root.iter(f"{SVG}text"):
        assert 0 <= float(text.get("x")) <= WIDTH_PX
        assert 0 <= float(text.get("y")) <= HEIGHT_PX
    numbers = [t for t in root.iter(f"{SVG}text") if "track-number" in (t.get("class") or "")]
    assert 1 <= len(numbers) <= 25
    (title,) = [t for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    # cut before its counts, and narrow enough for the page centred: 16 px DejaVu Sans
    # averages under 9 px a character
    tracks = "1 track" if n_tracks == 1 else f"{n_tracks} tracks"
    assert title.text.startswith(LONG_TITLE) and f"… ({tracks}, " in title.text
    assert float(title.get("x")) == WIDTH_PX / 2 and len(title.text) * 9 <= WIDTH_PX


def test_missing_values_and_control_characters_leave_a_well_formed_drawing():
    arc, profile = _movie(4)
    arc.loc[1, "valence"] = np.nan
    arc["track"] = ["a", "b\x1b[31m", "c\x00", "d"]
    profile.loc[2, "mean"] = np.nan  # dominance: no summary

    svg = movie_profile_svg(arc, profile, audio_path=None, title="Alien\x0c")

    root = _parse(svg)
    assert not re.search(r"\bnan\b", svg, re.IGNORECASE)
    (steps,) = [p for p in _panel(root, "valence").iter(f"{SVG}path") if p.get("class") == "steps"]
    assert steps.get("d").count("M") == 2  # broken at the missing value
    assert "track 2 b\ufffd[31m: valence n/a" in [t.text for t in root.iter(f"{SVG}title")]
    assert _legend(_panel(root, "dominance")) == ["track"]


def test_unknown_durations_put_the_tracks_side_by_side():
    arc, profile = _movie(3)
    arc["album_end_s"] = np.nan

    root = _parse(movie_profile_svg(arc, profile, audio_path=None, title="x"))

    edges, _ = _drawn_steps(_panel(root, "valence"))
    np.testing.assert_allclose(edges, [0, 1 / 3, 2 / 3, 1], atol=1e-3)
    (title,) = [t for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    assert title.text == "x (3 tracks, length unknown)"
    assert _texts(_group(root, "time-axis"))[-1] == "Tracks (lengths unknown)"


def test_titles_and_track_names_with_markup_are_escaped():
    arc, profile = _movie(2)
    arc["track"] = ["<script>alert(1)</script>", "Tom & Jerry's \"chase\""]

    svg = movie_profile_svg(arc, profile, audio_path=None, title="Face/Off <&> \"2\"")

    root = _parse(svg)  # well-formed XML
    assert "<script>" not in svg
    hover = [t.text for t in _panel(root, "arousal").iter(f"{SVG}title")]
    assert hover[1] == "track 2 Tom & Jerry's \"chase\": arousal 0.80"
    (title,) = [t for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    assert title.text.startswith('Face/Off <&> "2"')


@pytest.mark.parametrize("demo", [False, True])
def test_the_models_that_made_the_values_are_named_and_demo_models_flagged(demo):
    arc, profile = _movie(3)
    arc = arc.assign(model="valence=musicnn_ridge.valence; arousal=…",
                     trained_on="real 1234abcd", demo_model=demo)  # fmt: skip

    root = _parse(movie_profile_svg(arc, profile, audio_path=None, title="x"))

    texts = {t.get("class"): t.text for t in root.iter(f"{SVG}text")}
    assert texts["models"] == "valence=musicnn_ridge.valence; arousal=…, trained on real 1234abcd"
    assert ("demo" in texts) is demo
    if demo:
        assert texts["demo"].startswith("DEMO models")
