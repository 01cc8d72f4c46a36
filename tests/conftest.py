"""Fixtures shared across test packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundtrack_emotion.demo import DemoConfig, DemoTrack, build_demo_corpus

# A demo corpus small and short enough to build in about a second, bad entries included.
SMALL_DEMO = DemoConfig(
    seed=7,
    n_tracks=14,
    min_seconds=1.0,
    max_seconds=2.0,
    min_tracks_per_artist=2,
    max_tracks_per_artist=4,
    page_size=8,
)


@pytest.fixture(scope="session")
def small_demo_config() -> DemoConfig:
    """The configuration of the ``small_demo`` corpus."""
    return SMALL_DEMO


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DemoTrack]]:
    """``(raw_dir, planned tracks)`` of a small demo corpus; treat it as read-only."""
    raw_dir = tmp_path_factory.mktemp("demo") / "data" / "01_raw"
    return raw_dir, build_demo_corpus(raw_dir, SMALL_DEMO)


@pytest.fixture(autouse=True)
def _no_mlflow_run_left_active():
    """A test that starts an MLflow run (directly, or through the tracking node) never leaves
    it active for the next test, and the tracking URI goes back to its default."""
    yield
    import sys

    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        from mlflow.tracking.fluent import _active_run_stack

        stack = _active_run_stack.get()
        for _ in range(len(stack)):  # end_run pops one run, even when it then fails
            try:
                mlflow.end_run()
            except mlflow.exceptions.MlflowException:
                # Its store went with the test (a tmp_path, a monkeypatched URI): end_run has
                # already dropped it from the stack; nothing to mark as finished.
                continue
        mlflow.set_tracking_uri(None)
