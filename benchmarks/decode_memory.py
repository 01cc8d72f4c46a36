"""Peak memory of decoding, and of one worker's whole per-track work, each in a fresh process.

    PYTHONPATH=src python benchmarks/decode_memory.py [--minutes 20] [--track PATH]

Prints:
  * decode of a ``--minutes`` long synthetic FLAC (44.1 kHz stereo) to 22050 + 16000 Hz: the
    peak resident memory over the interpreter's, as a ratio to the two waveforms' size. ~1.0:
    the samples go straight into one buffer per rate (a decode that kept each rate's blocks
    and concatenated them at the end took ~2.0);
  * the same file refused by ``audio.max_seconds`` set below its length: the peak stays near
    the interpreter's (the header is checked before decoding);
  * ``extract_track`` with every default family (MFCC, MusiCNN + harmony fusion, VGGish's
    waveform) on ``--track`` (default: a real_music_dev file when ../shared holds it, else
    synthetic): the peak resident memory of a worker, to size
    ``feature_extraction.memory_limit_mb``, and what one more decode (rate-by-rate decoding
    does one per extra sample rate) costs against the track's whole work.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_TRACK = PROJECT_ROOT.parent / "shared/real_music_dev/audio/emotify_001.ogg"

# The process's peak resident memory (VmHWM: getrusage's ru_maxrss would count the image of
# the process that started it, which Linux carries across exec).
PEAK = """
import json, re, sys
def peak_mb():
    status = open("/proc/self/status").read()
    return int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1)) / 1024
"""

DECODE = (
    PEAK
    + """
import numpy, soundfile, soxr
from soundtrack_emotion.core.audio import decode
from soundtrack_emotion.exceptions import AudioDecodeError
base = peak_mb()
try:
    audio = decode(sys.argv[1], sample_rates=(22050, 16000), max_seconds=float(sys.argv[2]))
    size_mb = sum(w.nbytes for w in audio.waveforms.values()) / 2**20
    outcome = "ok"
except AudioDecodeError as error:
    size_mb, outcome = 0.0, error.reason
print(json.dumps({"base_mb": base, "peak_mb": peak_mb(), "size_mb": size_mb, "outcome": outcome}))
"""
)

EXTRACT = (
    PEAK
    + """
import yaml
from soundtrack_emotion.pipelines.feature_extraction.tracks import TrackTask, extract_track
from soundtrack_emotion.runtime.feature_settings import ExtractionParams
params = yaml.safe_load(open("conf/base/parameters_feature_extraction.yml"))["feature_extraction"]
params["precision"] = "float32"
p = ExtractionParams.from_dict(params)
families = tuple(p.family(f) for f in ("mfcc", "vggish", "fusion"))
precisions = tuple((f, p.precision_of(f)) for f in p.with_members(["fusion"])
                   if p.family(f).loads_model)
task = TrackTask(id="t", path=sys.argv[1], families=families, decoding=p.decoding,
                 precisions=precisions)
import time
extract_track(task)  # loads TensorFlow and MusiCNN
started = time.perf_counter()
result = extract_track(task)
total_s = time.perf_counter() - started
started = time.perf_counter()
p.decoding.decode(sys.argv[1], families[:1])  # one more decode, at one rate
decode_s = time.perf_counter() - started
print(json.dumps({"peak_mb": peak_mb(), "audio_s": result.audio_seconds, "error": result.error,
                  "total_s": total_s, "decode_s": decode_s}))
"""
)


def _run(script: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _long_flac(path: Path, minutes: float) -> Path:
    sr = 44100
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", sr, 2, subtype="PCM_16") as out:
        for _ in range(round(minutes * 6)):  # 10 s blocks
            t = np.arange(10 * sr) / sr
            y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))
            out.write(np.stack([y, y], axis=1).astype(np.float32))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--track", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        flac = _long_flac(Path(folder) / "long.flac", args.minutes)
        full = _run(DECODE, str(flac), "1e9")
        extra = full["peak_mb"] - full["base_mb"]
        print(
            f"decode {args.minutes:g} min to 22050 + 16000 Hz: waveforms {full['size_mb']:.0f} MB, "
            f"peak over the interpreter {extra:.0f} MB, ratio {extra / full['size_mb']:.2f} "
            "(a concatenating decode: ~2)"
        )
        refused = _run(DECODE, str(flac), str(args.minutes * 60 / 2))
        print(
            f"same file, max_seconds = half its length: {refused['outcome']}, peak over the "
            f"interpreter {refused['peak_mb'] - refused['base_mb']:.0f} MB"
        )
        track = args.track or (SHARED_TRACK if SHARED_TRACK.is_file() else flac)
        worker = _run(EXTRACT, str(track))
        print(
            f"one worker, extract_track(mfcc, vggish, fusion) on {track.name} "
            f"({worker['audio_s']:.0f} s): peak {worker['peak_mb']:.0f} MB"
            + (f" (error: {worker['error']})" if worker["error"] else "")
        )
        print(
            f"the extra decode of rate-by-rate decoding: {worker['decode_s']:.2f} s of the "
            f"track's {worker['total_s']:.1f} s ({worker['decode_s'] / worker['total_s']:.1%})"
        )


if __name__ == "__main__":
    main()
