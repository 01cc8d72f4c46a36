"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from kedro.config import OmegaConfigLoader

from soundtrack_emotion.hooks import DemoCorpusHook, ProjectContextHook
from soundtrack_emotion.pipelines.feature_extraction.hooks import VggishPreflightHook

# VggishPreflightHook runs first (tryfirst): a missing VGGish fails the run before the demo.
# ProjectContextHook: project root for relative paths, one-paragraph errors, parameter keys.
HOOKS = (ProjectContextHook(), DemoCorpusHook(), VggishPreflightHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
