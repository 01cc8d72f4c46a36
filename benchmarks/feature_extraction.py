"""Benchmark: feature extraction of this project against the thesis's recipe, end to end from
audio files, in the same process on the same files.

* MFCC path. Thesis: ``y, sr = librosa.load(path)`` (22,050 Hz) then
  ``librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, n_fft=2048, hop_length=1024)``, one file at a
  time. Project: the ``extract_features`` node (decode once with soundfile + soxr, MFCC, on
  ``workers`` processes) writing its partitions.
* VGGish path. Thesis: ``y, _ = librosa.load(path, sr=16000)`` then ``model(y)``, one file at a
  time. Project: the same node, decoding on the workers and batching VGGish across tracks.
* Both families together (the project decodes each file once for both).
* MusiCNN path. Package recipe (``musicnn.extractor``): ``librosa.load(path, sr=16000)``, the
  log-mel front end and the network patch batch by patch batch, one file at a time in one
  process (with the rebuilt Keras network, since the package itself cannot run here). Project:
  the same node, every worker loading the network once and computing decode + MusiCNN.
  Needs the weights (``python -m soundtrack_emotion.core.embeddings.pretrained``); skipped
  without them.
* Peak memory (RSS of the node's process and its workers) at two corpus sizes, each measured in
  a fresh process: it should stay flat as the audio grows.

Without ``--vggish HANDLE`` (no internet here), the model is a stand-in with VGGish's exact
layer sizes (~72 M parameters, random weights, log-mel front end as VGGish's) built inside the
benchmark and saved as a SavedModel, so both recipes load it with ``tensorflow_hub.load``. The
output says so.

    nice python benchmarks/feature_extraction.py --minutes 12
    nice python benchmarks/feature_extraction.py --folder path/to/audio --vggish path/to/vggish
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
import yaml

from soundtrack_emotion.runtime.feature_settings import available_cores

PROJECT_ROOT = Path(__file__).resolve().parents[1]
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".webm", ".opus", ".aac")
GENERATED_RATE = 44100
WRITE_BLOCK = 32768  # frames per soundfile write (libsndfile's Vorbis encoder dislikes more)


# ------------------------------------------------------------------------------ corpus


def music_like(seconds: float, *, seed: int, sr: int = GENERATED_RATE) -> np.ndarray:
    """Stereo [n, 2] float32: a chord progression with harmonics, a pulse and some noise."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sr)
    t = np.arange(n, dtype=np.float64) / sr
    out = np.zeros(n)
    bar = 2.0
    for start in np.arange(0.0, seconds, bar):
        i0, i1 = int(start * sr), min(n, int((start + bar) * sr))
        root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
        for ratio in (1.0, 1.25, 1.5, 2.0):
            for k in (1, 2, 3):
                out[i0:i1] += np.sin(2 * np.pi * root * ratio * k * t[i0:i1]) / (6 * k)
    pulse = (np.sin(2 * np.pi * 2.0 * t) > 0.95).astype(np.float64)
    out += 0.2 * pulse * rng.standard_normal(n) + 0.02 * rng.standard_normal(n)
    out *= 0.9 / np.max(np.abs(out))
    return np.stack([out, 0.8 * out], axis=1).astype(np.float32)


def generate_corpus(
    folder: Path, *, minutes: float, track_seconds: float, formats: list[str]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n_tracks = max(1, round(minutes * 60 / track_seconds))
    for i in range(n_tracks):
        ext = formats[i % len(formats)]
        audio = music_like(track_seconds, seed=i)
        with sf.SoundFile(folder / f"track-{i:04d}.{ext}", "w", GENERATED_RATE, 2) as out:
            for start in range(0, len(audio), WRITE_BLOCK):
                out.write(audio[start : start + WRITE_BLOCK])


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)


def audio_seconds(files: list[Path]) -> float:
    return sum(sf.info(str(p)).duration for p in files)


# ------------------------------------------------------------------------------ VGGish


def build_vggish_standin(directory: Path) -> int:
    """Save a model with VGGish's exact architecture and random weights as a SavedModel whose
    signature is VGGish's (1-D float32 16 kHz waveform -> [N, 128]); returns its parameters."""
    import tensorflow as tf

    replica = vggish_replica()
    tf.saved_model.save(replica, str(directory))
    return int(replica.net.count_params())


def vggish_replica(seed: int = 0) -> Any:
    """A ``tf.Module`` with VGGish's exact architecture (~72 M parameters, random weights
    drawn with ``seed``, VGGish's log-mel front end) and signature: ``module(waveform [n]
    float32 @ 16 kHz) -> [N, 128]``. Benchmarks and tests only, never the model."""
    import tensorflow as tf

    layers = tf.keras.layers
    seeds = iter(range(seed * 100, seed * 100 + 100))

    def conv(filters: int) -> Any:
        init = tf.keras.initializers.GlorotUniform(seed=next(seeds))
        return layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer=init)

    def dense(units: int, activation: str | None = "relu") -> Any:
        init = tf.keras.initializers.GlorotUniform(seed=next(seeds))
        return layers.Dense(units, activation=activation, kernel_initializer=init)

    pool = layers.MaxPool2D
    net = tf.keras.Sequential(
        [
            tf.keras.Input((96, 64, 1)),
            *(conv(64), pool(), conv(128), pool(), conv(256), conv(256), pool()),
            *(conv(512), conv(512), pool(), layers.Flatten()),
            *(dense(4096), dense(4096), dense(128, activation=None)),
        ]
    )
    mel = tf.signal.linear_to_mel_weight_matrix(64, 257, 16000, 125.0, 7500.0)

    class StandIn(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.mel = net, tf.Variable(mel, trainable=False)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, waveform: tf.Tensor) -> tf.Tensor:
            # VGGish's front end: 25 ms / 10 ms STFT, 64 mel bands, log, 0.96 s patches.
            spectrum = tf.abs(tf.signal.stft(waveform, 400, 160, fft_length=512))
            log_mel = tf.math.log(tf.matmul(spectrum, self.mel) + 0.01)
            patches = tf.signal.frame(log_mel, 96, 96, axis=0)
            return self.net(patches[..., None])

    return StandIn()


# ------------------------------------------------------------------------------ recipes


def thesis_mfcc(files: list[Path]) -> None:
    import librosa

    for path in files:
        y, sr = librosa.load(path)
        librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, n_fft=2048, hop_length=1024)


def thesis_vggish(files: list[Path], model: Any) -> None:
    """``model`` is what ``tensorflow_hub.load(handle)`` returned (loaded before timing)."""
    import librosa

    for path in files:
        y, _ = librosa.load(path, sr=16000)
        np.asarray(model(y))


def package_musicnn(files: list[Path], model: Any) -> None:
    """The musicnn package's recipe, file by file (``model``: loaded before timing)."""
    import librosa

    from soundtrack_emotion.core.embeddings.musicnn import musicnn_features

    for path in files:
        y, _ = librosa.load(path, sr=16000)
        musicnn_features(y, model=model)


def project_params(handle: str, workers: int) -> dict[str, Any]:
    text = (PROJECT_ROOT / "conf/base/parameters_feature_extraction.yml").read_text()
    params = yaml.safe_load(text)["feature_extraction"]
    params["workers"] = workers
    params["vggish"]["handle"] = handle
    return params


def project_run(files: list[Path], families: tuple[str, ...], params: dict[str, Any]) -> None:
    """The pipeline's extraction node over ``files``, saving every record as Kedro would."""
    from soundtrack_emotion.datasets import FeatureStoreDataset
    from soundtrack_emotion.pipelines.feature_extraction.nodes import extract_features

    soundtracks = pd.DataFrame(
        {
            # File names such as "Dance_(string_orchestra)" are not store keys.
            "id": [re.sub(r"[^\w.\-]", "_", p.stem) for p in files],
            "audio_path": [str(p) for p in files],
            "split": "train",
            "valence": 0.5,
            "arousal": 0.5,
            "dominance": 0.5,
        }
    )
    with tempfile.TemporaryDirectory(prefix="fe-bench-store-") as store_dir:
        stores = {f: FeatureStoreDataset(path=f"{store_dir}/{f}", family=f) for f in families}
        existing = {f"existing_{f}": stores[f].load() for f in families}
        for chunk in extract_features(soundtracks, params, **existing):
            for family, records in chunk.items():
                stores[family].save(records)


Timing = tuple[float, float]  # wall seconds, CPU seconds


def timed(func: Callable[[], None], repeat: int = 1) -> Timing:
    """(wall, CPU) seconds of the fastest of ``repeat`` runs, the one least disturbed by other
    users of the cores; CPU counts this process and every process it started."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        cpu, start = tree_cpu_seconds(os.getpid()), time.perf_counter()
        func()
        wall = time.perf_counter() - start
        best = min(best, (wall, tree_cpu_seconds(os.getpid()) - cpu))
    return best


def process_tree(root: int) -> set[int]:
    """``root`` and all its descendants (Linux /proc)."""
    parent_of = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent_of[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, ppid in parent_of.items() if ppid in frontier]
        tree.update(children)
        frontier = children
    return tree


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of ``root``'s process tree, finished (reaped) children included."""
    ticks = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_rss_mb(root: int) -> float:
    """Resident memory of process ``root`` and all its descendants, in MB."""
    total_kb = 0
    for pid in process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        # A zombie (an exited worker not yet reaped) has no VmRSS line.
        rss = (int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS"))
        total_kb += next(rss, 0)
    return total_kb / 1024


class PeakMemory:
    """Samples the RSS of this process tree (workers included) every ``interval`` seconds.
    ``lifetime``: also count this process's own peak since it started (``ru_maxrss``); off
    when several runs share one process and each wants its own peak."""

    def __init__(self, interval: float = 0.1, *, lifetime: bool = True) -> None:
        self.interval, self.peak_mb, self.lifetime = interval, 0.0, lifetime
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb(os.getpid()))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.lifetime:
            own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            self.peak_mb = max(self.peak_mb, own)


def measure_memory(args: argparse.Namespace) -> None:
    """Child mode: run the project's extraction on the first ``--limit`` files, print RSS."""
    from soundtrack_emotion.core.embeddings.vggish import load_vggish

    files = audio_files(Path(args.folder))[: args.limit]
    families = tuple(args.families.split(","))
    params = project_params(args.vggish, args.workers)
    if "vggish" in families:
        load_vggish(args.vggish)
    with PeakMemory() as memory:
        project_run(files, families, params)
    print(json.dumps({"peak_rss_mb": memory.peak_mb, "audio_seconds": audio_seconds(files)}))


def memory_at(
    folder: Path, limit: int, families: str, handle: str, workers: int
) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--measure-memory",
        "--folder",
        str(folder),
        "--limit",
        str(limit),
        "--families",
        families,
        "--vggish",
        handle,
        "--workers",
        str(workers),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes",
        type=float,
        default=12.0,
        help="audio to generate, rounded to whole tracks of --track-seconds (at least one)",
    )
    parser.add_argument("--track-seconds", type=float, default=180.0, help="length per track")
    parser.add_argument("--formats", default="mp3,flac,ogg,wav", help="containers to cycle")
    parser.add_argument("--folder", help="use the audio files of this folder instead")
    parser.add_argument("--vggish", help="VGGish handle (URL or SavedModel dir); else stand-in")
    parser.add_argument("--workers", type=int, default=available_cores())
    parser.add_argument("--skip-vggish", action="store_true", help="no VGGish path")
    parser.add_argument("--skip-musicnn", action="store_true", help="no MusiCNN path")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    parser.add_argument("--measure-memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help="only the first N files")
    parser.add_argument("--families", default="mfcc,vggish", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_memory:
        measure_memory(args)
        return

    with tempfile.TemporaryDirectory(prefix="fe-bench-") as scratch:
        scratch_dir = Path(scratch)
        if args.folder:
            folder = Path(args.folder)
        else:
            folder = scratch_dir / "audio"
            formats = args.formats.split(",")
            generate_corpus(
                folder, minutes=args.minutes, track_seconds=args.track_seconds, formats=formats
            )
        files = audio_files(folder)[: args.limit]
        total = audio_seconds(files)
        handle = args.vggish
        model_note = f"VGGish from {handle}"
        if not args.skip_vggish and handle is None:
            handle = str(scratch_dir / "vggish-standin")
            n_params = build_vggish_standin(Path(handle))
            model_note = (
                f"VGGish: STAND-IN with VGGish's exact layer sizes ({n_params / 1e6:.1f} M "
                "parameters, random weights; the real model is not available offline)"
            )
        params = project_params(handle or "", args.workers)
        kinds = sorted({p.suffix[1:] for p in files})
        print(
            f"Feature extraction benchmark: {total / 60:.1f} min of audio in {len(files)} "
            f"file{'s' if len(files) != 1 else ''} "
            f"({', '.join(kinds)}), {available_cores()} CPU cores, workers={args.workers}"
        )
        if not args.skip_vggish:
            print(model_note)

        def line(path: str, recipe: str, took: Timing, baseline: Timing | None = None) -> None:
            (wall, cpu), ratio = took, f"{baseline[0] / took[0]:.2f}x" if baseline else ""
            print(f"{path:<8}{recipe:<46}{wall:8.2f}{total / wall:11.1f}{cpu:8.2f}{ratio:>8}")

        # One-off costs per process, paid before the first track and excluded below: librosa
        # loads its submodules lazily; the project starts a fork server importing them once.
        warm_file = scratch_dir / "warm-up.wav"
        sf.write(warm_file, music_like(2.0, seed=12345), GENERATED_RATE)
        thesis_start, _ = timed(lambda: thesis_mfcc([warm_file]))
        project_start, _ = timed(lambda: project_run([warm_file], ("mfcc",), params))
        print(
            f"one-off start-up per process (excluded below): thesis {thesis_start:.1f} s "
            f"(librosa imports), project {project_start:.1f} s (fork server + imports)"
        )
        print(f"load average before timing: {os.getloadavg()[0]:.1f} (other users of the cores)")
        print(f"timings: fastest of {args.repeat} runs each; cpu s = CPU of all processes")
        print(f"{'path':<8}{'recipe':<46}{'wall s':>8}{'audio s/s':>11}{'cpu s':>8}{'ratio':>8}")
        thesis_m = timed(lambda: thesis_mfcc(files), args.repeat)
        line("mfcc", "thesis: librosa.load + librosa.feature.mfcc", thesis_m)
        ours_m = timed(lambda: project_run(files, ("mfcc",), params), args.repeat)
        line("mfcc", "project: extract_features (mfcc)", ours_m, thesis_m)
        if not args.skip_vggish:
            from soundtrack_emotion.core.embeddings.vggish import load_vggish

            model = load_vggish(handle)  # hub.load once per process, before timing either
            thesis_v = timed(lambda: thesis_vggish(files, model.module), args.repeat)
            line("vggish", "thesis: librosa.load(sr=16000) + model(y)", thesis_v)
            ours_v = timed(lambda: project_run(files, ("vggish",), params), args.repeat)
            line("vggish", "project: extract_features (vggish)", ours_v, thesis_v)
            ours_b = timed(lambda: project_run(files, ("mfcc", "vggish"), params), args.repeat)
            thesis_b = (thesis_m[0] + thesis_v[0], thesis_m[1] + thesis_v[1])
            line("both", "thesis: both recipes above, file by file", thesis_b)
            line("both", "project: extract_features (mfcc + vggish)", ours_b, thesis_b)

        if not args.skip_musicnn:
            from soundtrack_emotion.core.embeddings.musicnn import load_musicnn
            from soundtrack_emotion.exceptions import ModelUnavailableError

            try:
                musicnn = load_musicnn(None)
            except ModelUnavailableError as error:
                print(f"musicnn: skipped ({error})")
            else:
                thesis_c = timed(lambda: package_musicnn(files, musicnn), args.repeat)
                line("musicnn", "package: librosa.load(sr=16000) + network", thesis_c)
                ours_c = timed(lambda: project_run(files, ("musicnn",), params), args.repeat)
                line("musicnn", "project: extract_features (musicnn)", ours_c, thesis_c)

        families = "mfcc" if args.skip_vggish else "mfcc,vggish"
        half = max(1, len(files) // 2)
        print(f"peak memory (RSS of the extraction process and its workers), {families}:")
        for limit in sorted({half, len(files)}):
            stats = memory_at(folder, limit, families, handle or "", args.workers)
            print(
                f"  {stats['audio_seconds'] / 60:6.1f} min of audio: {stats['peak_rss_mb']:8.0f} MB"
            )


if __name__ == "__main__":
    main()
