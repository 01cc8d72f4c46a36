"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from kedro.config import OmegaConfigLoader

from soundtrack_emotion.hooks import DemoCorpusHook
from soundtrack_emotion.pipelines.feature_extraction.hooks import (
    MusicnnPreflightHook,
    VggishPreflightHook,
)

# The preflight hooks run first (tryfirst): a missing VGGish or MusiCNN fails the run before
# the demo is built.
HOOKS = (DemoCorpusHook(), VggishPreflightHook(), MusicnnPreflightHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
