"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.utils import find_kedro_project

from soundtrack_emotion.hooks import (
    ConsoleHook,
    DemoCorpusHook,
    ProjectContextHook,
    RunSummaryHook,
    SecretMaskingHook,
)
from soundtrack_emotion.pipelines.feature_extraction.hooks import (
    MusicnnPreflightHook,
    VggishPreflightHook,
)
from soundtrack_emotion.secret_masking import mask_project_credentials

# Kedro imports this module before the first hook runs: from here on, every configured
# credential value (conf/*/credentials*.yml, the documented environment variables) is masked
# in every log record, whatever the logger or level (see secret_masking.py).
mask_project_credentials((find_kedro_project(Path.cwd()) or Path.cwd()) / "conf")

# The preflight hooks run first (tryfirst): a missing VGGish or MusiCNN fails the run before
# the demo is built.
# SecretMaskingHook masks the credentials Kedro resolves, before the catalog is created;
# ProjectContextHook: project root for relative paths, one-paragraph errors, parameter keys.
HOOKS = (
    SecretMaskingHook(),
    ProjectContextHook(),
    ConsoleHook(),
    DemoCorpusHook(),
    VggishPreflightHook(),
    MusicnnPreflightHook(),
    RunSummaryHook(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
