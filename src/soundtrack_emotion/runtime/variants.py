"""Which networks model each feature family in the modelling pipeline and the batch runs:
``modelling.variants`` of the project's parameters (``networks`` for every family but the
``light_families``, which get ``light_networks``).

Kedro builds the pipelines before a run's parameters exist, so this reads the setting itself,
from ``conf/base`` and ``conf/local`` (the default run environment); ``--env`` and ``--params``
do not change which models a pipeline holds. Without a project configuration (a notebook
outside a project) every family gets ``fallback``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.runtime.paths import project_root

SETTING = "modelling.variants"


def networks_by_feature(
    features: Sequence[str], *, fallback: Sequence[str], conf_source: str | Path | None = None
) -> dict[str, tuple[str, ...]]:
    """``{family: networks}`` for ``features`` from ``modelling.variants`` (``fallback`` for
    every family where the project has no such setting)."""
    variants = _configured(conf_source)
    if not variants:
        return {f: tuple(fallback) for f in features}
    try:
        networks = tuple(variants["networks"])
        light = set(variants["light_families"] or ())
        light_networks = tuple(variants["light_networks"])
    except (KeyError, TypeError) as error:
        raise ParameterError(
            f"{SETTING} must hold the lists networks, light_families and light_networks ({error})"
        ) from None
    return {f: light_networks if f in light else networks for f in features}


def _configured(conf_source: str | Path | None) -> Mapping[str, Any]:
    from kedro.config import OmegaConfigLoader

    conf = Path(conf_source) if conf_source is not None else project_root() / "conf"
    if not (conf / "base").is_dir():
        return {}
    parameters = OmegaConfigLoader(
        conf_source=str(conf),
        base_env="base",
        default_run_env="local",
        merge_strategy={"parameters": "soft"},
    )["parameters"]
    return (parameters.get("modelling") or {}).get("variants") or {}
