"""Per-track work on the process pool vs Dask distributed, on the same files in one run.

    PYTHONPATH=src python benchmarks/dask_backend.py [--tracks 12] [--seconds 20]

Prints, for decode + MFCC (``extract_track``, feature_extraction's per-track work):
  * audio seconds per wall second: process pool (feature_extraction.workers) vs Dask with 1
    and 2 worker processes (LocalCluster, 1 thread each), and the ratio to the pool;
  * the Dask overhead per task (a no-op task, round trip through the scheduler);
  * peak resident memory per Dask worker as the catalogue grows 1x -> 4x (must stay flat:
    one track in memory per worker thread, results streamed back as they complete).
Cluster start-up is timed apart (it is paid once per run). Synthetic audio: plumbing figures
for comparing backends, not a claim about real music.
"""

from __future__ import annotations

import argparse
import resource
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


def tasks_for(paths: list[Path], p: ExtractionParams) -> list[TrackTask]:
    return [
        TrackTask(
            id=path.stem,
            path=str(path),
            families=(p.mfcc,),
            decoding=p.decoding,
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


def cluster(n_workers: int):
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    local = LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(local)
    return local, client, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=12, help="tracks at 1x")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per track")
    args = parser.parse_args()
    params = yaml.safe_load((PROJECT / "conf/base/parameters_feature_extraction.yml").read_text())
    p = ExtractionParams.from_dict(params["feature_extraction"])
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_tracks(Path(tmp), 4 * args.tracks, args.seconds)
        base = tasks_for(paths[: args.tracks], p)
        print(f"{len(base)} tracks x {args.seconds:.0f} s (44.1 kHz stereo FLAC), decode + MFCC")
        print(f"{'backend':<28}{'audio s / wall s':>18}{'vs pool':>10}{'start s':>10}")
        run(base[:2], workers=p.workers)  # warm the file cache and the fork server
        audio, wall = run(base, workers=p.workers)
        pool = audio / wall
        print(f"{f'process pool ({p.workers} workers)':<28}{pool:>18.1f}{1.0:>10.2f}{'-':>10}")
        per_worker = {}
        for n in (1, 2):
            local, client, start_s = cluster(n)
            run(base[:n], workers=n, client=client)  # imports on every worker
            audio, wall = run(base, workers=n, client=client)
            per_worker[n] = audio / wall / n
            name = f"dask ({n} worker{'s' if n > 1 else ''})"
            print(f"{name:<28}{audio / wall:>18.1f}"
                  f"{audio / wall / pool:>10.2f}{start_s:>10.1f}")  # fmt: skip
            if n == 1:
                client.gather(client.map(noop, range(20), pure=False))
                started = time.perf_counter()
                for future in client.map(noop, range(N_NOOP_TASKS), pure=False):
                    future.result()
                overhead = (time.perf_counter() - started) / N_NOOP_TASKS
                print(f"dask overhead per task: {overhead * 1e3:.2f} ms "
                      f"({N_NOOP_TASKS} no-op tasks, 1 worker)")  # fmt: skip
            client.close()
            local.close()
        print("peak memory per dask worker (2 workers) as the catalogue grows:")
        print(f"{'scale':<8}{'tracks':>8}{'audio h':>10}{'worker peak MiB':>20}")
        for scale in (1, 2, 4):
            local, client, _ = cluster(2)
            tasks = tasks_for(paths[: scale * args.tracks], p)
            audio, _ = run(tasks, workers=2, client=client)
            peaks = client.run(peak_rss_mib).values()
            print(f"{f'{scale}x':<8}{len(tasks):>8}{audio / 3600:>10.2f}"
                  f"{' / '.join(f'{m:.0f}' for m in peaks):>20}")  # fmt: skip
            client.close()
            local.close()
        print(f"per-worker throughput on Dask: {per_worker[1]:.1f} (1 worker), "
              f"{per_worker[2]:.1f} (2 workers) audio s / wall s")  # fmt: skip


if __name__ == "__main__":
    main()
