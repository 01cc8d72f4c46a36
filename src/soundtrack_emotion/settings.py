"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

import os
import warnings
from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.utils import find_kedro_project

from soundtrack_emotion.runtime.console import restore_configured_log_levels
from soundtrack_emotion.runtime.hooks import (
    ConsoleHook,
    DemoCorpusHook,
    ProjectContextHook,
    RawLayerHook,
    RunSummaryHook,
    SecretMaskingHook,
)
from soundtrack_emotion.runtime.preflight import ModelPreflightHook
from soundtrack_emotion.runtime.run_lock import RunLockHook
from soundtrack_emotion.secret_masking import mask_project_credentials

# Kedro imports this module before the first hook runs: from here on, every configured
# credential value (conf/*/credentials*.yml, the documented environment variables) is masked
# in every log record, whatever the logger or level (see secret_masking.py).
mask_project_credentials((find_kedro_project(Path.cwd()) or Path.cwd()) / "conf")

# The preflight hook runs first (tryfirst): a missing network (VGGish, MusiCNN) fails the run
# before the demo is built.
# SecretMaskingHook masks the credentials Kedro resolves, before the catalog is created;
# ProjectContextHook: project root for relative paths, one-paragraph errors, parameter keys.
# RawLayerHook: the crawl writes where the catalog's raw entries are.
HOOKS = (
    SecretMaskingHook(),
    RunLockHook(),
    ProjectContextHook(),
    RawLayerHook(),
    ConsoleHook(),
    DemoCorpusHook(),
    ModelPreflightHook(),
    RunSummaryHook(),
)


def _project_file(relative: str) -> Path:
    root = find_kedro_project(Path.cwd()) or Path.cwd()
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
    return path


def mlflow_store(relative: str) -> str:
    """``${mlflow_store:mlruns/mlflow.db}`` in mlflow.yml: ``$MLFLOW_TRACKING_URI`` when set,
    else a SQLite tracking store at that path under the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{_project_file(relative)}"


def mlflow_artifacts(relative: str) -> str | None:
    """``${mlflow_artifacts:mlruns/artifacts}``: the local artefact folder under the project
    root; ``None`` (the server decides) when ``$MLFLOW_TRACKING_URI`` is set."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    return str(_project_file(relative + "/x").parent)


# Quiet console with MLflow: no progress bar per downloaded artefact, and no warning about
# kedro-mlflow's own pyfunc class lacking type hints (raised when the plugin is imported).
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
warnings.filterwarnings(
    "ignore", message=r".*Add type hints to the `predict` method", category=UserWarning
)
restore_configured_log_levels()

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment's parameters (conf/local, conf/dask) merge key by key over conf/base, so
    # they hold only what differs; "destructive" (Kedro's default) would replace each top-level
    # section, and with `--env dask --params inference.catalogue=...` drop every other
    # inference parameter.
    "merge_strategy": {"parameters": "soft"},
    "custom_resolvers": {"mlflow_store": mlflow_store, "mlflow_artifacts": mlflow_artifacts},
}
