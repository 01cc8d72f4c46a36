"""The feature families, one module each, found by name like the network bodies of
:mod:`soundtrack_emotion.core.architectures`.

Every module of this package except ``base`` defines ``FAMILY``, a
:class:`~soundtrack_emotion.core.families.base.FeatureFamily` subclass, and has a section
``feature_extraction.<name>`` in ``conf/base/parameters_feature_extraction.yml``. Extraction,
inference, the checks before a run, the fingerprints and the catalog's dataset factories all
loop over :data:`FAMILIES`, so adding a family is its module, its YAML section and its tests.
"""

from __future__ import annotations

import importlib
import pkgutil

from soundtrack_emotion.core.families.base import (
    PARAMS,
    Batcher,
    Decoding,
    FamilyOutput,
    FeatureFamily,
    RateByRate,
    balanced_weights,
    rate_groups,
    track_features,
    with_members,
)
from soundtrack_emotion.core.vocabulary import JOINT_NAME, NETWORK_NAMES
from soundtrack_emotion.exceptions import ParameterError

_NOT_FAMILIES = ("base",)


def _discover() -> dict[str, type[FeatureFamily]]:
    found: dict[str, type[FeatureFamily]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in _NOT_FAMILIES:
            continue
        family = importlib.import_module(f"{__name__}.{info.name}").FAMILY
        if family.name != info.name:
            raise ParameterError(f"module {info.name} declares the family {family.name!r}")
        found[family.name] = family
    return dict(sorted(found.items(), key=lambda item: (item[1].rank, item[0])))


# Every family by name, in rank order.
FAMILIES: dict[str, type[FeatureFamily]] = _discover()
FEATURES: tuple[str, ...] = tuple(FAMILIES)
# The families of the default run (``kedro run``): all but the opt-in ones.
DEFAULT_FEATURES: tuple[str, ...] = tuple(n for n, f in FAMILIES.items() if not f.opt_in)
# The default run's families whose model needs no download at run time (the offline pipelines).
OFFLINE_FEATURES: tuple[str, ...] = tuple(
    n for n in DEFAULT_FEATURES if not FAMILIES[n].needs_network
)


def family_class(name: str) -> type[FeatureFamily]:
    """The family called ``name``; ``ParameterError`` names the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ParameterError(f"unknown feature {name!r}; known: {list(FEATURES)}") from None


def display_name(name: str) -> str:
    """How reports and logs write a family (``"vggish"`` -> ``"VGGish"``)."""
    return family_class(name).display_name


def model_display_name(feature: str, network: str, target: str | None = None) -> str:
    """How the report, the catalogue page and the run summary write a trained model: its
    family's ``display_name`` and its network's (``vocabulary.NETWORK_NAMES``); a joint
    model says so. A name that is not registered (a model of a removed family) is shown as
    it is stored.

    >>> model_display_name("musicnn", "ridge", "valence")
    'MusiCNN Ridge'
    >>> model_display_name("mfcc", "cnn", "joint")
    'MFCC CNN, joint (V, A, D)'
    """
    family = FAMILIES[feature].display_name if feature in FAMILIES else feature
    name = f"{family} {NETWORK_NAMES.get(network, network)}"
    return f"{name}, {JOINT_NAME}" if target == "joint" else name


def variant_display_name(variant: str) -> str:
    """:func:`model_display_name` of a ``{feature}_{network}`` id, as the tables that name
    a model by its id write it; an id of no registered family is returned as it is.

    >>> variant_display_name("musicnn_vgg_ridge"), variant_display_name("mfcc_cnn")
    ('MusiCNN VGG Ridge', 'MFCC CNN')
    """
    families = sorted((f for f in FAMILIES if variant.startswith(f"{f}_")), key=len)
    if not families:
        return variant
    feature = families[-1]
    return model_display_name(feature, variant.removeprefix(f"{feature}_"))


__all__ = [
    "DEFAULT_FEATURES",
    "FAMILIES",
    "FEATURES",
    "OFFLINE_FEATURES",
    "PARAMS",
    "Batcher",
    "Decoding",
    "FamilyOutput",
    "FeatureFamily",
    "RateByRate",
    "balanced_weights",
    "display_name",
    "family_class",
    "model_display_name",
    "rate_groups",
    "track_features",
    "variant_display_name",
    "with_members",
]
