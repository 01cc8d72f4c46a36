"""The embedded demo corpus: a deterministic, synthetic stand-in for the crawled raw layer."""

from soundtrack_emotion.demo.corpus import (
    BadEntry,
    DemoConfig,
    DemoTrack,
    build_demo_corpus,
    plan_corpus,
)

__all__ = [
    "BadEntry",
    "DemoConfig",
    "DemoTrack",
    "build_demo_corpus",
    "plan_corpus",
]
