"""Progress of a long step: a bar on a terminal, plain lines when piped."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

from tqdm.auto import tqdm

from soundtrack_emotion.runtime.progress import LINE_SECONDS, LineProgress, progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_piped_progress_prints_one_line_per_tenth_without_carriage_returns():
    script = textwrap.dedent(
        """
        from soundtrack_emotion.runtime.progress import progress
        for _ in progress(range(652), desc="feature_extraction", unit="track"):
            pass
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    lines = done.stderr.splitlines()
    assert "\r" not in done.stderr and "\x1b" not in done.stderr
    assert len(lines) == 10
    assert lines[0].startswith("feature_extraction: 66/652 tracks (10%), 0:0")
    assert lines[-1].startswith("feature_extraction: 652/652 tracks (100%)")


def test_on_a_terminal_progress_is_a_tqdm_bar():
    bar = progress(range(3), desc="features", unit="track", stream=_Terminal())
    assert isinstance(bar, tqdm)
    bar.close()


def test_piped_progress_also_prints_between_tenths_when_time_passes():
    out, clock = io.StringIO(), _Clock()
    with progress(total=1000, desc="inference", unit="track", stream=out, clock=clock) as bar:
        bar.update(5)
        assert out.getvalue() == ""
        clock.now = LINE_SECONDS + 1
        bar.update(5)
        bar.update(1)  # no tenth passed, no time passed: no line
    assert out.getvalue().splitlines() == [
        "inference: 10/1000 tracks (1%), 0:31 elapsed",
        "inference: 11/1000 tracks (1%), 0:31 elapsed",  # the last count, when it closes
    ]


def test_piped_progress_of_unknown_total_counts_and_shows_its_postfix():
    out, clock = io.StringIO(), _Clock()
    bar = LineProgress(desc="lastfm tag.getTopTracks", unit="item", stream=out, clock=clock)
    bar.update(3)
    bar.set_postfix({"done": 2}, refresh=False, val_loss="0.0123")
    bar.close()
    bar.close()
    assert out.getvalue() == (
        "lastfm tag.getTopTracks: 3 items, 0:00 elapsed, done=2, val_loss=0.0123\n"
    )


def test_piped_transient_or_disabled_progress_prints_nothing():
    out = io.StringIO()
    for kwargs in ({"leave": False}, {"enabled": False}):
        bar = progress(total=4, desc="mfcc_cnn.valence", unit="epoch", stream=out, **kwargs)
        bar.update(4)
        bar.close()
    assert out.getvalue() == ""


def test_a_piped_run_counts_its_nodes_every_tenth(monkeypatch):
    from types import SimpleNamespace

    from soundtrack_emotion.runtime.hooks import ConsoleHook

    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    hook = ConsoleHook()
    node = SimpleNamespace(name="train_model", tags={"modelling"})
    hook.before_pipeline_run({}, SimpleNamespace(nodes=[node] * 20))
    for _ in range(20):
        hook.before_node_run(node)
        hook.after_node_run(node)

    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("run: 2/20 nodes (10%)") and lines[-1].startswith("run: 20/20")
