"""Per-track work on the process pool vs Dask distributed, on the same files in one run.

    PYTHONPATH=src python benchmarks/dask_backend.py [--tracks 12] [--seconds 20] [--rounds 3]
        [--family mfcc|musicnn] [--memory] [--plain]

Prints, for decode + the family's features (``extract_track``, feature_extraction's per-track
work; MusiCNN needs its weights in the project's cache):
  * audio seconds per wall second of the process pool (feature_extraction.workers) and of
    Dask with 1 and 2 worker processes, each Dask run right after a pool run, ``--rounds``
    times, alternating (the machine is shared: only ratios measured side by side mean
    anything), as medians: on the project's cluster (``runtime.distributed.local_cluster``:
    loopback, TLS, no worker profiler) and, with ``--plain``, on a plain LocalCluster (TCP,
    profiler on), both with ``dask_map``'s batches of tracks; the ratio to the pool and from
    1 to 2 workers, cold (a fresh cluster's first run: each worker's imports, JIT compilation
    and models, as every pool run pays them) and warm (the same cluster's second run);
  * the Dask overhead per task (a no-op task, round trip through the scheduler);
  * ``--memory``: peak resident memory per Dask worker as the catalogue grows 1x -> 4x (must
    stay flat: a few tracks in memory per worker thread, results streamed back).
Cluster start-up is timed apart (it is paid once per run). Synthetic audio: plumbing figures
for comparing backends, not a claim about real music.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from soundtrack_emotion.pipelines.feature_extraction.tracks import (
    TrackTask,
    crashed_track,
    extract_track,
)
from soundtrack_emotion.runtime import distributed
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
from soundtrack_emotion.runtime.workers import map_tracks

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 44100
N_NOOP_TASKS = 300


def write_tracks(folder: Path, n: int, seconds: float) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
        y = 0.3 * np.sin(2 * np.pi * (110 + 20 * i) * t) + 0.05 * rng.standard_normal(len(t))
        path = folder / f"track_{i:04d}.flac"
        sf.write(path, np.stack([y, y], axis=1).astype(np.float32), SAMPLE_RATE)
        paths.append(path)
    return paths


def tasks_for(paths: list[Path], p: ExtractionParams, family: str) -> list[TrackTask]:
    chosen = p.family(family)
    precisions = ((family, p.precision_of(family)),) if chosen.loads_model else ()
    return [
        TrackTask(
            id=path.stem,
            path=str(path),
            families=(chosen,),
            decoding=p.decoding,
            precisions=precisions,
        )
        for path in paths
    ]


def run(tasks: list[TrackTask], *, workers: int, client=None) -> tuple[float, float]:
    """(audio seconds, wall seconds) of every task through map_tracks."""
    started = time.perf_counter()
    audio = 0.0
    for result in map_tracks(
        extract_track, tasks, workers=workers, on_crash=crashed_track, dask_client=client
    ):
        audio += 0.0 if result.error else result.audio_seconds
    return audio, time.perf_counter() - started


def peak_rss_mib() -> float:
    """This process's peak resident memory (run on every worker with client.run)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def noop(x: int) -> int:
    return x


def cluster(n_workers: int, *, before: bool = False):
    """The project's LocalCluster of ``n_workers`` (``before``: as it was made before, plain
    TCP with the worker profiler on)."""
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    if before:
        local = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
    else:
        params = distributed.ComputeParams(n_workers=n_workers)
        local = distributed.local_cluster(params)
    client = Client(local)
    return local, client, time.perf_counter() - started


def dask_rate(tasks: list[TrackTask], n: int, *, before: bool) -> tuple[float, float, float]:
    """Audio s / wall s of Dask with ``n`` workers, cold (a fresh cluster's first run: each
    worker's imports, JIT compilation and models, as a pool run pays them) and warm (the same
    cluster's second run), and the cluster's start-up s."""
    local, client, start_s = cluster(n, before=before)
    try:
        audio, cold = run(tasks, workers=n, client=client)
        _, warm = run(tasks, workers=n, client=client)
    finally:
        client.close()
        local.close()
    return audio / cold, audio / warm, start_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=12, help="tracks at 1x")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per track")
    parser.add_argument("--rounds", type=int, default=3, help="alternating pool/Dask rounds")
    parser.add_argument("--family", default="mfcc", choices=("mfcc", "musicnn"))
    parser.add_argument("--memory", action="store_true", help="peak memory 1x -> 4x")
    parser.add_argument("--plain", action="store_true", help="also a plain LocalCluster")
    args = parser.parse_args()
    setups = ("now", "before") if args.plain else ("now",)
    params = yaml.safe_load((PROJECT / "conf/base/parameters_feature_extraction.yml").read_text())
    p = ExtractionParams.from_dict(params["feature_extraction"])
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_tracks(Path(tmp), 4 * args.tracks, args.seconds)
        base = tasks_for(paths[: args.tracks], p, args.family)
        print(f"{len(base)} tracks x {args.seconds:.0f} s (44.1 kHz stereo FLAC), decode + "
              f"{args.family}; medians of {args.rounds} alternating rounds")  # fmt: skip
        run(base[:2], workers=p.workers)  # warm the file cache and the fork server
        pools: list[float] = []
        rates: dict[tuple[str, int], list[float]] = {}
        warm_rates: dict[tuple[str, int], list[float]] = {}
        starts: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.rounds):
            for setup in setups:
                for n in (1, 2):
                    audio, wall = run(base, workers=p.workers)
                    pools.append(audio / wall)
                    rate, warm, start_s = dask_rate(base, n, before=setup == "before")
                    rates.setdefault((setup, n), []).append(rate / pools[-1])
                    warm_rates.setdefault((setup, n), []).append(warm / pools[-1])
                    starts.setdefault((setup, n), []).append(start_s)
        pool = statistics.median(pools)
        print(f"{'backend':<40}{'vs pool':>10}{'warm':>10}{'start s':>10}")
        print(f"{f'process pool ({p.workers} workers), {pool:.1f} audio s/s':<40}"
              f"{1.0:>10.2f}{'-':>10}{'-':>10}")  # fmt: skip
        labels = {"before": "TCP, profiler", "now": "TLS, no profiler"}
        for setup, label in ((setup, labels[setup]) for setup in setups):
            for n in (1, 2):
                ratio = statistics.median(rates[(setup, n)])
                warm = statistics.median(warm_rates[(setup, n)])
                name = f"dask {n} worker{'s' if n > 1 else ''} ({label})"
                print(f"{name:<40}{ratio:>10.2f}{warm:>10.2f}"
                      f"{statistics.median(starts[(setup, n)]):>10.1f}")  # fmt: skip
            scaling = [statistics.median(two / one for one, two in
                                         zip(table[(setup, 1)], table[(setup, 2)], strict=True))
                       for table in (rates, warm_rates)]  # fmt: skip
            print(f"{f'  scaling 1 -> 2 workers ({setup})':<40}{scaling[0]:>10.2f}"
                  f"{scaling[1]:>10.2f}")  # fmt: skip
        local, client, _ = cluster(1)
        client.gather(client.map(noop, range(20), pure=False))
        started = time.perf_counter()
        for future in client.map(noop, range(N_NOOP_TASKS), pure=False):
            future.result()
        overhead = (time.perf_counter() - started) / N_NOOP_TASKS
        print(f"dask overhead per task: {overhead * 1e3:.2f} ms "
              f"({N_NOOP_TASKS} no-op tasks, 1 worker)")  # fmt: skip
        client.close()
        local.close()
        if not args.memory:
            return
        print("peak memory per dask worker (2 workers) as the catalogue grows:")
        print(f"{'scale':<8}{'tracks':>8}{'audio h':>10}{'worker peak MiB':>20}")
        for scale in (1, 2, 4):
            local, client, _ = cluster(2)
            tasks = tasks_for(paths[: scale * args.tracks], p, args.family)
            audio, _ = run(tasks, workers=2, client=client)
            peaks = client.run(peak_rss_mib).values()
            print(f"{f'{scale}x':<8}{len(tasks):>8}{audio / 3600:>10.2f}"
                  f"{' / '.join(f'{m:.0f}' for m in peaks):>20}")  # fmt: skip
            client.close()
            local.close()


if __name__ == "__main__":
    main()
