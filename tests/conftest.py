"""Fixtures shared across test packages."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from soundtrack_emotion.datasets.raw_layer import RAW_ENTRIES, RawLayer
from soundtrack_emotion.demo import DemoConfig, DemoTrack, build_demo_corpus

CONF = Path(__file__).resolve().parents[1] / "conf"

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


def _project_catalog(
    root: Path, names: Iterable[str], *, moved: Mapping[str, str] | None = None
) -> DataCatalog:
    """The project's catalog entries ``names`` (conf/base, through Kedro's loader so that
    globals interpolate) with their relative paths under ``root``, as a session puts them
    under the project root; ``moved`` gives some entries another path first."""
    config = OmegaConfigLoader(str(CONF), base_env="base", default_run_env="base")["catalog"]
    entries = {}
    for name in names:
        entry = dict(config[name])
        for key in ("path", "filepath"):
            if key in entry:
                entry[key] = str(root / (moved or {}).get(name, entry[key]))
        entries[name] = entry
    return DataCatalog.from_config(entries)


@pytest.fixture(scope="session")
def project_catalog() -> Callable[..., DataCatalog]:
    """``project_catalog(root, names, moved=None)``: see :func:`_project_catalog`."""
    return _project_catalog


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RawLayer, list[DemoTrack]]:
    """``(project root, raw layer, planned tracks)`` of a small demo corpus, written where the
    project's catalog puts the raw layer under a temporary root; treat it as read-only."""
    root = tmp_path_factory.mktemp("demo")
    layer = RawLayer.from_catalog(_project_catalog(root, RAW_ENTRIES.values()))
    return root, layer, build_demo_corpus(layer, SMALL_DEMO)


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
