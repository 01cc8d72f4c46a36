"""Benchmark: extraction speed of feature families on one CPU core, in audio seconds per wall
second, on the same file in the same process (decoding excluded, the network loaded first).

Each family is built from its section of ``conf/base/parameters_feature_extraction.yml``
through the registry and computed ``--repeats`` times with ``track_features`` (the path
extraction and inference share); the best repeat counts. A composite family (``fusion``) is
timed on its own, its members' outputs not reused, so its figure is the cost of all its members.

    nice python benchmarks/family_speed.py mfcc musicnn harmony
    nice python benchmarks/family_speed.py harmony --file path/to/track.ogg --repeats 5
"""

from __future__ import annotations

import os

# One core: BLAS, TensorFlow and librosa's workers stay on it (set before they are imported).
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf" / "base" / "parameters_feature_extraction.yml"
DEFAULT_FILE = (
    ROOT.parent / "shared" / "audio" / "librosa_examples" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("families", nargs="+", help="family names (core/families)")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    from soundtrack_emotion.runtime.feature_settings import ExtractionParams

    params = ExtractionParams.from_dict(yaml.safe_load(CONF.read_text())["feature_extraction"])
    from soundtrack_emotion.core.families import track_features

    families = [params.family(name) for name in args.families]
    audio = params.decoding.decode(str(args.file), families)
    models = {
        name: params.load_model(name)
        for name in params.with_members(args.families)
        if params.family(name).loads_model
    }
    print(f"{args.file.name}: {audio.seconds:.1f} s of audio, one core, best of {args.repeats}")
    print("| family | rows x dims | wall s | audio s per wall s |")
    print("| --- | --- | ---: | ---: |")
    for family in families:
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            rows = track_features(family, audio, models).rows
            best = min(best, time.perf_counter() - start)
        shape = f"{rows.shape[0]} x {rows.shape[1]}"
        print(f"| {family.name} | {shape} | {best:.2f} | {audio.seconds / best:.1f} |")


if __name__ == "__main__":
    main()
