"""Benchmark: bfloat16 against float32 for the pretrained networks, next to the thesis recipe,
in one process on the same files.

For each family (MFCC, MusiCNN, VGGish) it times, from the audio files: the thesis's recipe
(MusiCNN: the musicnn package's, as ``benchmarks/feature_extraction.py`` defines them), the
project's ``extract_features`` node with ``feature_extraction.precision: float32`` and with
``bfloat16``; then the networks alone on decoded audio in both precisions, with the accuracy of
bfloat16 against float32 per file (relative L2 error of the embedding matrix, largest
difference relative to the largest float32 value, correlation). Figures are audio seconds per
wall second, ratios against the thesis recipe and against the project in float32, and the peak
RSS of the process and its workers during each run. MFCC is NumPy: precision does not apply,
its bfloat16 row shows the noise level.

bfloat16 is native on CPUs with AMX or AVX512-BF16 (``auto`` picks it there); elsewhere it
runs emulated and slower, which the output says. VGGish's conversion needs TensorFlow's oneDNN
backend, which TensorFlow turns off on CPUs without AVX512-VNNI/BF16 or AMX: there, run the
script again with ``TF_ENABLE_ONEDNN_OPTS=1`` for the VGGish bfloat16 rows (every row then runs
with oneDNN, float32 included).

Without ``--vggish HANDLE`` the VGGish timed is the stand-in with VGGish's exact layer sizes
(random weights) of ``benchmarks/feature_extraction.py``; the output says so.

    nice python benchmarks/precision.py --limit 4
    TF_ENABLE_ONEDNN_OPTS=1 nice python benchmarks/precision.py --limit 4
    nice python benchmarks/record.py precision --limit 4 --onednn-too   # both, into the docs
    nice python benchmarks/precision.py --folder path/to/audio --vggish path/to/vggish
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from feature_extraction import (
    GENERATED_RATE,
    PeakMemory,
    audio_files,
    audio_seconds,
    build_vggish_standin,
    generate_corpus,
    music_like,
    package_musicnn,
    project_params,
    project_run,
    thesis_mfcc,
    thesis_vggish,
    timed,
)
from soundtrack_emotion.runtime.feature_settings import available_cores

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SOUNDTRACK_EMOTION_SHARED") or PROJECT_ROOT.parent / "shared")
# Real CC music (the tests' clips); a generated corpus where ../shared is absent.
DEFAULT_FOLDER = SHARED / "audio" / "librosa_examples"
PRECISIONS = ("float32", "bfloat16")


def measured(func: Callable[[], None], repeat: int) -> tuple[float, float]:
    """(wall seconds of the fastest of ``repeat`` runs, peak MB over them)."""
    with PeakMemory(lifetime=False) as peak:
        wall, _ = timed(func, repeat)
    return wall, peak.peak_mb


def machine_line() -> str:
    from soundtrack_emotion.core.precision import CPU_BF16_FLAGS, cpu_flags, onednn_enabled

    model = next(
        (ln.split(":", 1)[1].strip() for ln in _cpuinfo() if ln.startswith("model name")),
        platform.processor() or platform.machine(),
    )
    flags = [f for f in CPU_BF16_FLAGS if f in cpu_flags()] or ["none"]
    onednn = "on" if onednn_enabled() else "off"
    return f"CPU: {model}; bfloat16 flags: {', '.join(flags)}; TensorFlow oneDNN: {onednn}"


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def auto_line() -> str:
    from soundtrack_emotion.core.precision import resolved

    parts = []
    for network, engine in (("VGGish", "graph"), ("MusiCNN", "keras")):
        choice = resolved("auto", name="feature_extraction.precision", engine=engine)
        parts.append(f"{network} {choice.precision} ({choice.reason})")
    return "auto resolves here to: " + "; ".join(parts)


def not_here(error: Exception) -> str:
    """Why a bfloat16 row cannot run in this process, in a few words."""
    if "TF_ENABLE_ONEDNN_OPTS=1" in str(error):
        return "n/a: needs TensorFlow's oneDNN, off here (rerun with TF_ENABLE_ONEDNN_OPTS=1)"
    return f"n/a: {error}"


def errors(fp32: np.ndarray, bf16: np.ndarray) -> tuple[float, float, float]:
    """(relative L2, largest difference / largest float32 value, correlation)."""
    return (
        float(np.linalg.norm(bf16 - fp32) / np.linalg.norm(fp32)),
        float(np.abs(bf16 - fp32).max() / np.abs(fp32).max()),
        float(np.corrcoef(fp32.ravel(), bf16.ravel())[0, 1]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", help=f"audio files to time (default: {DEFAULT_FOLDER})")
    parser.add_argument("--limit", type=int, default=4, help="only the first N files")
    parser.add_argument("--minutes", type=float, default=4.0, help="generated, without a folder")
    parser.add_argument("--vggish", help="VGGish handle (URL or SavedModel dir); else stand-in")
    parser.add_argument("--workers", type=int, default=available_cores())
    parser.add_argument("--repeat", type=int, default=1, help="runs per timing (best kept)")
    parser.add_argument(
        "--onednn-too",
        action="store_true",
        help="where TensorFlow's oneDNN is off, also run everything again with it forced on",
    )
    args = parser.parse_args()
    run_benchmark(args)
    from soundtrack_emotion.core.precision import onednn_enabled

    if args.onednn_too and not onednn_enabled():
        print("\nThe same with TF_ENABLE_ONEDNN_OPTS=1 (oneDNN forced on, in a fresh process):")
        again = [a for a in sys.argv[1:] if a != "--onednn-too"]
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"}
        done = subprocess.run(
            [sys.executable, __file__, *again], env=env, check=False, capture_output=True, text=True
        )
        print(done.stdout.rstrip())
        if done.returncode:
            sys.exit(f"the oneDNN run failed (exit {done.returncode}):\n{done.stderr[-2000:]}")


def run_benchmark(args: argparse.Namespace) -> None:

    from soundtrack_emotion.core.embeddings.musicnn import load_musicnn, musicnn_outputs
    from soundtrack_emotion.core.embeddings.vggish import load_vggish, vggish_embeddings
    from soundtrack_emotion.exceptions import ModelUnavailableError, ParameterError
    from soundtrack_emotion.runtime.feature_settings import ExtractionParams

    with tempfile.TemporaryDirectory(prefix="precision-bench-") as scratch:
        scratch_dir = Path(scratch)
        folder = Path(args.folder) if args.folder else DEFAULT_FOLDER
        if not folder.is_dir():
            folder = scratch_dir / "audio"
            generate_corpus(folder, minutes=args.minutes, track_seconds=60.0, formats=["flac"])
        files = [p for p in audio_files(folder) if ".hq." not in p.name][: args.limit]
        total = audio_seconds(files)
        handle = args.vggish
        note = f"VGGish from {handle}"
        if handle is None:
            handle = str(scratch_dir / "vggish-standin")
            n_params = build_vggish_standin(Path(handle))
            note = (
                f"VGGish: STAND-IN with VGGish's exact layer sizes ({n_params / 1e6:.1f} M "
                "parameters, random weights; the real model is not available offline)"
            )
        params = project_params(handle, args.workers)
        print(
            f"Precision benchmark: {total / 60:.1f} min of audio in {len(files)} files from "
            f"{folder.name}, {available_cores()} CPU cores, workers={args.workers}"
        )
        print(machine_line())
        print(auto_line())
        print(note)
        print(f"load average before timing: {os.getloadavg()[0]:.1f} (other users of the cores)")

        warm = scratch_dir / "warm-up.wav"
        sf.write(warm, music_like(2.0, seed=12345), GENERATED_RATE)
        thesis_mfcc([warm])
        fp32_params = params | {"precision": "float32"}
        project_run([warm], ("mfcc",), fp32_params)
        short = scratch_dir / "start-up.wav"
        sf.write(short, music_like(12.0, seed=54321), GENERATED_RATE)
        start, _ = timed(lambda: project_run([short], ("musicnn",), fp32_params))
        print(
            "project runs include starting their workers: MusiCNN on one 12 s file takes "
            f"{start:.1f} s (TensorFlow import and network load in a worker)"
        )
        print(
            f"timings: fastest of {args.repeat} run(s) each; peak MB = RSS of the process and "
            "its workers during the run"
        )
        header = f"{'path':<9}{'recipe':<40}{'wall s':>8}{'audio s/s':>11}{'vs thesis':>11}"
        print(f"{header}{'vs fp32':>9}{'peak MB':>9}")

        def line(
            path: str,
            recipe: str,
            took: tuple[float, float],
            thesis: float,
            fp32: float | None = None,
        ) -> None:
            wall, peak = took
            vs_fp32 = f"{fp32 / wall:.2f}x" if fp32 else ""
            print(
                f"{path:<9}{recipe:<40}{wall:8.2f}{total / wall:11.1f}"
                f"{thesis / wall:10.2f}x{vs_fp32:>9}{peak:9.0f}"
            )

        def project_rows(family: str, thesis: float) -> None:
            fp32 = None
            for setting in PRECISIONS:
                run_params = params | {"precision": setting}
                try:
                    ExtractionParams.from_dict(run_params).precision_of(family)
                except ParameterError as error:
                    print(f"{family:<9}{f'project {setting}':<40}  {not_here(error)}")
                    continue
                took = measured(lambda p=run_params: project_run(files, (family,), p), args.repeat)
                line(family, f"project {setting} (extract_features)", took, thesis, fp32)
                fp32 = fp32 or took[0]

        thesis_m = measured(lambda: thesis_mfcc(files), args.repeat)
        line("mfcc", "thesis: librosa.load + feature.mfcc", thesis_m, thesis_m[0])
        project_rows("mfcc", thesis_m[0])

        try:
            musicnn = {p: load_musicnn(None, precision=p) for p in PRECISIONS}
        except ModelUnavailableError as error:
            musicnn = {}
            print(f"musicnn: skipped ({error})")
        if musicnn:
            took = measured(lambda: package_musicnn(files, musicnn["float32"]), args.repeat)
            line("musicnn", "package: librosa.load(16k) + network", took, took[0])
            project_rows("musicnn", took[0])

        vggish32 = load_vggish(handle)
        thesis_v = measured(lambda: thesis_vggish(files, vggish32.module), args.repeat)
        line("vggish", "thesis: librosa.load(16k) + model(y)", thesis_v, thesis_v[0])
        project_rows("vggish", thesis_v[0])

        # The networks alone on decoded audio, and what bfloat16 changes in their output.
        import librosa

        decoded = [librosa.load(path, sr=16000)[0] for path in files]
        networks: dict[str, dict[str, Callable[[np.ndarray], np.ndarray]]] = {}
        if musicnn:
            networks["musicnn"] = {
                p: (lambda y, m=m: musicnn_outputs(y, model=m)["dense"]) for p, m in musicnn.items()
            }
        networks["vggish"] = {"float32": lambda y: vggish_embeddings(y, model=vggish32)}
        try:
            ExtractionParams.from_dict(params | {"precision": "bfloat16"}).precision_of("vggish")
        except ParameterError as error:
            vggish_note = not_here(error)
        else:
            vggish_note = ""
            vggish16 = load_vggish(handle, "bfloat16")
            networks["vggish"]["bfloat16"] = lambda y: vggish_embeddings(y, model=vggish16)
        print("networks alone on decoded 16 kHz audio (this process, TensorFlow's default threads)")
        print(
            f"{'network':<9}{'fp32 audio s/s':>16}{'bf16 audio s/s':>16}{'bf16 vs fp32':>14}"
            f"   bf16 vs fp32 per file: rel. L2 / largest diff / correlation (worst)"
        )
        for name, runs in networks.items():
            outputs: dict[str, list[np.ndarray]] = {}
            speed = {}
            for setting, run in runs.items():
                run(decoded[0][: 16000 * 4])  # trace the graph once
                got: list[np.ndarray] = []
                wall, _ = timed(lambda r=run, g=got: g.extend(r(y) for y in decoded))
                outputs[setting], speed[setting] = got[-len(decoded) :], total / wall
            if "bfloat16" not in speed:
                print(f"{name:<9}{speed['float32']:16.1f}{'-':>16}{'-':>14}   {vggish_note}")
                continue
            worst = [
                errors(a, b) for a, b in zip(outputs["float32"], outputs["bfloat16"], strict=True)
            ]
            l2, largest = max(w[0] for w in worst), max(w[1] for w in worst)
            correlation = min(w[2] for w in worst)
            print(
                f"{name:<9}{speed['float32']:16.1f}{speed['bfloat16']:16.1f}"
                f"{speed['bfloat16'] / speed['float32']:13.2f}x   {l2:.4f} / {largest:.4f} / "
                f"{correlation:.6f}"
            )


if __name__ == "__main__":
    main()
