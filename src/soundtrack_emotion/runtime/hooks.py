"""Project hooks: mask the credentials Kedro resolves; set up each session's context (project
root, readable errors, parameter keys checked); give the raw layer's writers the catalog's raw
paths; generate the embedded demo corpus when a run needs a raw layer that is absent; a quiet
console; close every run with a short summary."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import Any

from kedro.config import MissingConfigException, OmegaConfigLoader
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from soundtrack_emotion.datasets.raw_layer import RAW_ENTRIES, RawLayer, bind_raw_layer
from soundtrack_emotion.demo import DemoConfig, build_demo_corpus
from soundtrack_emotion.exceptions import PrerequisiteError
from soundtrack_emotion.runtime.console import FILE_ONLY, install_console_filter, pipeline_of
from soundtrack_emotion.runtime.errors import present_errors
from soundtrack_emotion.runtime.parameter_check import check_parameter_keys
from soundtrack_emotion.runtime.paths import set_project_root, shown_path
from soundtrack_emotion.runtime.progress import LineProgress, is_terminal
from soundtrack_emotion.runtime.run_summary import run_summary
from soundtrack_emotion.secret_masking import mask_credentials

logger = logging.getLogger(__name__)

DEMO_PARAMS = "params:demo"


class SecretMaskingHook:
    """Registers every credential value Kedro resolves for this run (any ``--env``, any
    ``--conf-source``, values interpolated from any environment variable) for masking, before
    the catalog is created: Kedro's hook tracing logs ``conf_creds`` at DEBUG level. The
    documented sources are masked earlier still, when ``settings.py`` is imported."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: Any) -> None:
        try:
            credentials = context.config_loader["credentials"]
        except MissingConfigException:  # Kedro runs without credentials then, and so do we
            return
        mask_credentials(credentials)


class RawLayerHook:
    """When a catalog is created (a run, a notebook's ``catalog``), bind ``raw_layer_store``, the
    store the acquisition crawl writes through, to the paths of the catalog's raw entries
    (:mod:`soundtrack_emotion.datasets.raw_layer`): the layout is defined by the catalog only."""

    @hook_impl
    def after_catalog_created(self, catalog: Any) -> None:
        bind_raw_layer(catalog)


class DemoCorpusHook:
    """Before a run that reads the raw layer, when no raw layer is there (no tag pages): write
    the demo corpus where the catalog's raw entries are if the environment enables it
    (``demo.enabled``, true in ``conf/demo`` only), else stop the run saying what to do. An
    existing raw layer, e.g. a real crawl, is never touched; runs that do not read the raw layer
    (acquisition) never trigger it."""

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        needed = sorted(set(pipeline.inputs()) & set(RAW_ENTRIES.values()))
        if not needed or DEMO_PARAMS not in catalog:
            return
        layer = RawLayer.from_catalog(catalog)
        if layer.present:
            return
        params = dict(catalog.load(DEMO_PARAMS) or {})
        if not params.get("enabled", False):
            raise PrerequisiteError(
                f"No raw layer: {shown_path(layer.tag_pages)} does not exist. Crawl a real "
                "corpus with `kedro run --pipelines=acquisition` (docs/real_corpus.md), point "
                "the raw catalog entries at one (conf/local/), or run the synthetic demo with "
                "`make demo` (kedro run --pipelines=offline --env demo)."
            )
        config = DemoConfig.from_params(params)
        logger.info(
            "No raw layer (no %s): generating the demo corpus (%d tracks, seed %d) for %s",
            shown_path(layer.tag_pages),
            config.n_tracks,
            config.seed,
            ", ".join(needed),
        )
        started = time.perf_counter()
        tracks = build_demo_corpus(layer, config)
        logger.info(
            "Demo corpus ready: %d tracks in %.1f s", len(tracks), time.perf_counter() - started
        )


class ConsoleHook:
    """Quiet console (``soundtrack_emotion.runtime.console``): no per-item lines, and instead of
    Kedro's three lines per node, one line each time the run moves on to another pipeline
    (``[53/101] modelling: mfcc_cnn.valence.train_model``); the nodes' progress bars show the
    rest. Where the output is not a terminal (no bars per model), the run's own count of nodes
    done is printed every tenth (``run: 185/370 nodes (50%), 12:03 elapsed``), so a long
    stage is never silent. ``kedro run --verbose`` and info.log keep Kedro's line for every
    node."""

    def __init__(self) -> None:
        self._done, self._total, self._stage = 0, 0, None
        self._nodes: LineProgress | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        install_console_filter()

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline) -> None:
        self._done, self._total, self._stage = 0, len(pipeline.nodes), None
        self._nodes = None
        if not is_terminal(sys.stderr):
            self._nodes = LineProgress(desc="run", total=self._total, unit="node",
                                       stream=sys.stderr)  # fmt: skip

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._done += 1
        stage = pipeline_of(node.tags) or node.name
        if stage != self._stage:
            self._stage = stage
            logger.info("[%d/%d] %s: %s", self._done, self._total, stage, node.name)

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        if self._nodes is not None:
            self._nodes.update()


class RunSummaryHook:
    """After a run, log where ``report.html`` is, the headline metrics (from the catalogued
    ``model_metrics``) and every failed track with its reason, from what the run wrote."""

    @hook_impl
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        outputs = {name for name in pipeline.all_outputs() if name in catalog}
        project_path = Path(run_params.get("project_path") or Path.cwd())

        def path_of(name: str) -> str:
            path = Path(str(getattr(catalog[name], "_filepath", name)))
            with contextlib.suppress(ValueError):
                return str(path.resolve().relative_to(project_path.resolve()))
            return str(path)

        demo = "demo_ground_truth" in catalog and catalog.exists("demo_ground_truth")
        lines = run_summary(outputs, lambda name: catalog[name].load(), path_of, demo=demo)
        if lines:
            # Printed as plain lines (a log handler would wrap them), and logged to the file.
            text = "\n".join(["Run summary:", *lines])
            print(text, flush=True)
            logger.info(text, extra={FILE_ONLY: True})


class ProjectContextHook:
    """When a session's context is created (``kedro run``, a notebook's ``%reload_kedro``),
    before any catalog entry or node: record the project root relative paths are resolved
    against (:mod:`soundtrack_emotion.runtime.paths`); make a project error that ends the run print
    as one paragraph (:func:`~soundtrack_emotion.runtime.errors.present_errors`); and refuse
    parameter keys that conf/base does not declare
    (:mod:`~soundtrack_emotion.runtime.parameter_check`).
    """

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: Any) -> None:
        set_project_root(context.project_path)
        present_errors()
        loader = context.config_loader
        params = loader["parameters"]
        base = OmegaConfigLoader(
            conf_source=str(loader.conf_source),
            base_env=loader.base_env,
            default_run_env=loader.base_env,
            config_patterns=getattr(loader, "config_patterns", None),
        )["parameters"]
        check_parameter_keys(params, base)
