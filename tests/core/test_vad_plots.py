"""The movie-profile figure redrawn movie after movie, and its fixed page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import StepPatch

from soundtrack_emotion.core.vad_plots import MovieProfileFigure, plot_movie_profile
from soundtrack_emotion.core.vocabulary import VAD_LABELS

LONG_TITLE = "The Lord of the Rings: The Return of the King (Extended Edition)"


def _movie(n_tracks: int, *, flagged: int = 0, intervals: bool = False) -> tuple[pd.DataFrame, ...]:
    """An arc of ``n_tracks`` one-minute tracks (the first ``flagged`` out of domain, with
    prediction intervals when ``intervals``) and its profile."""
    values = np.linspace(0.2, 0.8, n_tracks)
    arc = pd.DataFrame({
        "position": np.arange(1, n_tracks + 1),
        "album_start_s": 60.0 * np.arange(n_tracks),
        "album_end_s": 60.0 * np.arange(1, n_tracks + 1),
        **dict.fromkeys(VAD_LABELS, values),
        "out_of_domain": np.arange(n_tracks) < flagged,
    })  # fmt: skip
    if intervals:
        arc = arc.assign(valence_low=values - 0.1, valence_high=values + 0.1, interval_level=0.9)
    profile = pd.DataFrame({"label": list(VAD_LABELS), "mean": 0.5, "std": 0.1})
    return arc, profile


def _pixels(figure) -> np.ndarray:
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba()).copy()


def test_a_redrawn_profile_keeps_nothing_of_the_movie_before():
    figure = MovieProfileFigure()
    figure.draw(*_movie(30, flagged=3, intervals=True), audio_path=None, title="First")
    arc, profile = _movie(4)

    redrawn = figure.draw(arc, profile, audio_path=None, title="Second")

    valence = redrawn.axes[0]
    (steps,) = [p for p in valence.patches if isinstance(p, StepPatch)]
    np.testing.assert_allclose(steps.get_data().edges, [0, 1, 2, 3, 4])
    legend = [t.get_text() for t in valence.get_legend().get_texts()]
    assert legend == ["track", "weighted mean 0.50", "± std 0.10"]
    (track_axis,) = valence.child_axes
    assert [t.get_text() for t in track_axis.get_xticklabels()] == ["1", "2", "3", "4"]
    assert valence.get_xlim() == pytest.approx((0.0, 4.0))
    assert redrawn.get_suptitle() == "Second (4 tracks, 4.0 min)"
    # the same picture as a figure drawn for this movie alone
    fresh = plot_movie_profile(arc, profile, audio_path=None, title="Second")
    np.testing.assert_array_equal(_pixels(redrawn), _pixels(fresh))


@pytest.mark.parametrize("n_tracks", [0, 1, 12, 400])
def test_every_text_of_a_profile_lies_on_its_page(n_tracks):
    """Fixed margins instead of a layout pass: titles, numbers and legends still fit (the
    box ``bbox_inches="tight"`` would crop to lies inside the page)."""
    figure = plot_movie_profile(*_movie(n_tracks, flagged=min(n_tracks, 2), intervals=True),
                                audio_path=None, title=LONG_TITLE)  # fmt: skip
    figure.canvas.draw()
    drawn = figure.get_tightbbox(figure.canvas.get_renderer())  # inches
    page = figure.bbox_inches
    assert page.x0 <= drawn.x0 and drawn.x1 <= page.x1
    assert page.y0 <= drawn.y0 and drawn.y1 <= page.y1
