"""The feature_extraction pipeline end to end through Kedro's runner: both families with the
VGGish stand-in, every bad-audio case recorded, resume without recompute, recompute on changed
parameters, streamed model inputs, and the offline (MFCC only) variant."""

from __future__ import annotations

import importlib
import json
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import CSVDataset

from soundtrack_emotion.core.embeddings.musicnn import MSD_TAGS, load_musicnn, musicnn_features
from soundtrack_emotion.core.families import FEATURES, OFFLINE_FEATURES
from soundtrack_emotion.core.families.mfcc import mfcc
from soundtrack_emotion.core.vocabulary import (
    FRAME_SECONDS,
    MODEL_INPUT_LABELS,
    SPLITS,
    VAD_LABELS,
)
from soundtrack_emotion.datasets import FeatureStoreDataset, ModelInputDataset
from soundtrack_emotion.exceptions import ModelUnavailableError
from soundtrack_emotion.pipelines.feature_extraction import create_pipeline, nodes
from soundtrack_emotion.pipelines.feature_extraction.tracks import extract_track
from soundtrack_emotion.runtime.preflight import ModelPreflightHook
from soundtrack_emotion.runtime.workers import map_tracks

from .conftest import PROJECT_ROOT, make_soundtracks, standin_embeddings, tone, write_audio

# The families with a tests-only stand-in model; MusiCNN runs its real weights (tests below).
STANDIN = ("mfcc", "vggish")
GOOD = {
    "long": ("flac", 31.0),
    "medium": ("wav", 16.0),
    "short": ("ogg", 12.0),
    "mp3": ("mp3", 20.0),
}


@pytest.fixture
def corpus(tmp_path: Path, no_ffmpeg: None) -> dict[str, Path]:
    """Four good tracks and one of every bad kind, as ``{id: path}``."""
    audio = tmp_path / "audio"
    paths = {}
    for i, (name, (ext, seconds)) in enumerate(GOOD.items()):
        paths[name] = write_audio(audio / f"{name}.{ext}", tone(seconds, sr=22050, seed=i), 22050)
    paths["silent"] = write_audio(
        audio / "silent.wav", np.zeros((22050 * 12, 1), np.float32), 22050
    )
    paths["clip"] = write_audio(audio / "clip.wav", tone(3.0, sr=22050), 22050)
    paths["corrupt"] = audio / "corrupt.wav"
    paths["corrupt"].write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(256)) * 8)
    paths["empty"] = audio / "empty.mp3"
    paths["empty"].write_bytes(b"")
    paths["text"] = audio / "text.ogg"
    paths["text"].write_text("not audio\n" * 50)
    paths["aac"] = audio / "aac.m4a"
    paths["aac"].write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A mp42isom" + bytes(64))
    paths["missing"] = audio / "missing.flac"
    return paths


def catalog_for(root: Path, soundtracks: pd.DataFrame, params: dict) -> DataCatalog:
    datasets = {
        "soundtracks": MemoryDataset(soundtracks),
        "params:feature_extraction": MemoryDataset(params),
        "params:compute": MemoryDataset({"backend": "processes"}),
        "feature_extraction_report": CSVDataset(filepath=str(root / "report.csv")),
    }
    for family in FEATURES:
        store = str(root / "04_feature" / family)
        datasets[f"{family}_features"] = FeatureStoreDataset(path=store, family=family)
        datasets[f"existing_{family}_features"] = FeatureStoreDataset(path=store, family=family)
        for seconds in FRAME_SECONDS:
            path = str(root / "05_model_input" / f"{family}_{seconds}s")
            datasets[f"{family}_{seconds}s"] = ModelInputDataset(path=path, shard_frames=3)
    return DataCatalog(datasets)


def run(root: Path, soundtracks: pd.DataFrame, params: dict, features=STANDIN) -> DataCatalog:
    catalog = catalog_for(root, soundtracks, params)
    SequentialRunner().run(create_pipeline(features=features), catalog)
    return catalog


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every TrackTask the extraction node hands to extract_track, in order."""
    calls: list = []

    def counting(task):
        calls.append(task)
        return extract_track(task)

    monkeypatch.setattr(nodes, "extract_track", counting)
    return calls


def test_offline_pipeline_never_touches_vggish() -> None:
    offline = create_pipeline(features=("mfcc",))
    names = {n.name for n in offline.nodes}
    assert names == {
        "extract_features",
        "report_feature_extraction",
        "frame_mfcc_15s",
        "frame_mfcc_30s",
    }
    assert not any("vggish" in d for d in offline.datasets())
    assert all(n.tags == {"feature_extraction"} for n in offline.nodes)
    full = create_pipeline()
    vggish_nodes = {"extract_features", "report_feature_extraction"}
    vggish_nodes |= {"frame_vggish_15s", "frame_vggish_30s"}
    assert {n.name for n in full.only_nodes_with_tags("vggish").nodes} == vggish_nodes
    assert {n.name for n in full.only_nodes_with_tags("vggish_model").nodes} == {"extract_features"}


def test_full_run_records_every_track(
    tmp_path: Path, corpus: dict[str, Path], params: dict, vggish_standin: Path
) -> None:
    params["vggish"]["handle"] = str(vggish_standin)
    soundtracks = make_soundtracks(corpus)
    run(tmp_path, soundtracks, params)
    report = pd.read_csv(tmp_path / "report.csv").set_index("id")
    assert list(report.index) == list(soundtracks["id"])
    assert set(report.index[report["status"] == "ok"]) == set(GOOD)
    reasons = report["reason"].fillna("")
    for track_id, expected in {
        "silent": "silent: peak level -inf dBFS",
        "clip": "too short: 3.00 s",
        "corrupt": "corrupt WAV file",
        "empty": "empty file (0 bytes)",
        "text": "not an audio file",
        "aac": "M4A/MP4 audio needs ffmpeg, which is not on PATH",
        "missing": "file not found",
    }.items():
        assert report.loc[track_id, "status"] == "error"
        assert expected in reasons[track_id], reasons[track_id]
    frames = report.loc[list(GOOD), [f"{f}_{s}s_frames" for f in STANDIN for s in FRAME_SECONDS]]
    # 31 s: two 15 s frames, one 30 s; 16 and 20 s: one of each (padded to 30 s); 12 s: padded.
    expected = {
        "long": [2, 1, 2, 1],
        "medium": [1, 1, 1, 1],
        "short": [1, 1, 1, 1],
        "mp3": [1, 1, 1, 1],
    }
    assert frames.to_dict("index") == {
        k: dict(zip(frames.columns, v, strict=True)) for k, v in expected.items()
    }
    assert "padded to one 30 s frame" in reasons["medium"]
    assert (report.loc[list(GOOD), "seconds"] > 0).all()
    assert report.loc["long", "audio_seconds"] == pytest.approx(31.0)

    mfcc_store = FeatureStoreDataset(path=str(tmp_path / "04_feature/mfcc"), family="mfcc").load()
    y, _ = librosa.load(corpus["medium"])
    # Workers use one BLAS thread: equal to librosa's numbers up to float rounding.
    np.testing.assert_allclose(mfcc_store["medium"], mfcc(y), rtol=1e-5, atol=1e-4)
    vggish_store = FeatureStoreDataset(path=str(tmp_path / "04_feature/vggish"), family="vggish")
    y16, _ = librosa.load(corpus["long"], sr=16000)
    embeddings = vggish_store.load()["long"]
    assert embeddings.shape == (32, 128)  # 31 s / 0.96 s
    np.testing.assert_allclose(embeddings, standin_embeddings(y16)[:32], rtol=1e-5, atol=1e-5)


def test_model_inputs_are_framed_per_split_with_song_labels(
    tmp_path: Path, corpus: dict[str, Path], params: dict, vggish_standin: Path
) -> None:
    params["vggish"]["handle"] = str(vggish_standin)
    soundtracks = make_soundtracks(corpus)
    catalog = run(tmp_path, soundtracks, params)
    labels = soundtracks.set_index("id")[list(VAD_LABELS)]
    split_of = soundtracks.set_index("id")["split"]
    shapes = {"mfcc": {15: (323, 13), 30: (646, 13)}, "vggish": {15: (15, 128), 30: (30, 128)}}
    for family in STANDIN:
        store = catalog.load(f"{family}_features")
        for seconds in FRAME_SECONDS:
            inputs = catalog.load(f"{family}_{seconds}s")
            seen = set()
            for split in SPLITS:
                part = inputs[split]
                assert part.frame_shape == shapes[family][seconds]
                assert part.label_names == MODEL_INPUT_LABELS
                for chunk in part.iter_chunks():
                    for frame, song, index, label in zip(
                        chunk.frames, chunk.song_id, chunk.frame_index, chunk.labels, strict=True
                    ):
                        assert split_of[song] == split
                        np.testing.assert_allclose(label[:3], labels.loc[song], rtol=1e-6)
                        assert np.isnan(label[3:]).all()  # no quadrant, no signs
                        length = shapes[family][seconds][0]
                        stored = store[song][index * length : (index + 1) * length]
                        np.testing.assert_array_equal(frame[: len(stored)], stored)
                        seen.add(song)
            assert seen == set(GOOD)


def test_model_inputs_are_lazy_iterators(tmp_path: Path, params: dict) -> None:
    audio = {
        f"s{i}": write_audio(tmp_path / f"s{i}.wav", tone(16.0, sr=22050, seed=i), 22050)
        for i in range(3)
    }
    soundtracks = make_soundtracks(audio)
    catalog = run(tmp_path, soundtracks, params, features=("mfcc",))
    store = catalog.load("mfcc_features")
    reads = []
    store_getitem = type(store).__getitem__
    type(store).__getitem__ = lambda self, key: reads.append(key) or store_getitem(self, key)
    try:
        splits = nodes.build_model_inputs(store, soundtracks, params, feature="mfcc", seconds=15)
        assert reads == []  # nothing is read before the dataset consumes the stream
        first = next(splits["train"])
        assert reads == [first.song_id[0]] and first.frames.shape == (1, 323, 13)
    finally:
        type(store).__getitem__ = store_getitem


def test_resume_after_an_interrupted_run(
    tmp_path: Path, params: dict, vggish_standin: Path, counted: list, monkeypatch
) -> None:
    params["vggish"]["handle"] = str(vggish_standin)
    params["vggish"]["batch_windows"] = 40  # tracks wait for a full batch before VGGish runs
    audio = {
        f"t{i}": write_audio(tmp_path / f"t{i}.wav", tone(14.0, sr=22050, seed=i), 22050)
        for i in range(6)
    }
    soundtracks = make_soundtracks(audio)

    def dies_on_the_fifth(task):
        if len(counted) == 4:
            raise KeyboardInterrupt("killed")
        counted.append(task)
        return extract_track(task)

    monkeypatch.setattr(nodes, "extract_track", dies_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, soundtracks, params)
    stores = {f: tmp_path / "04_feature" / f for f in STANDIN}
    done = {f: sorted(p.stem for p in stores[f].glob("*.npz")) for f in STANDIN}
    # Every finished track was saved as it finished; VGGish had run on the first full batch.
    assert done["mfcc"] == ["t0", "t1", "t2", "t3"]
    assert done["vggish"] == ["t0", "t1"]
    assert not [p for f in STANDIN for p in stores[f].iterdir() if p.name.startswith(".")]
    mtimes = {p: p.stat().st_mtime_ns for f in STANDIN for p in stores[f].glob("*.npz")}

    counted.clear()
    monkeypatch.undo()
    monkeypatch.setattr(nodes, "extract_track", lambda t: counted.append(t) or extract_track(t))
    run(tmp_path, soundtracks, params)
    both = ("mfcc", "vggish")
    expected = {"t2": ("vggish",), "t3": ("vggish",), "t4": both, "t5": both}
    assert {t.id: t.names for t in counted} == expected
    assert all(p.stat().st_mtime_ns == m for p, m in mtimes.items())
    report = pd.read_csv(tmp_path / "report.csv")
    assert (report["status"] == "ok").all() and len(report) == 6

    counted.clear()
    run(tmp_path, soundtracks, params)
    assert counted == []


KILLED_RUN = """
import json, sys, time
from pathlib import Path
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import CSVDataset
from soundtrack_emotion.datasets import FeatureStoreDataset, ModelInputDataset
from soundtrack_emotion.pipelines.feature_extraction import create_pipeline, nodes

root = Path(sys.argv[1])
real = nodes.extract_track
nodes.extract_track = lambda task: (time.sleep(0.4), real(task))[1]  # slow enough to kill
store = str(root / "04_feature/mfcc")
catalog = DataCatalog({
    "soundtracks": MemoryDataset(pd.read_json(root / "soundtracks.json")),
    "params:feature_extraction": MemoryDataset(json.loads((root / "params.json").read_text())),
    "params:compute": MemoryDataset({"backend": "processes"}),
    "mfcc_features": FeatureStoreDataset(path=store, family="mfcc"),
    "existing_mfcc_features": FeatureStoreDataset(path=store, family="mfcc"),
    "feature_extraction_report": CSVDataset(filepath=str(root / "report.csv")),
    "mfcc_15s": ModelInputDataset(path=str(root / "mfcc_15s")),
    "mfcc_30s": ModelInputDataset(path=str(root / "mfcc_30s")),
})
SequentialRunner().run(create_pipeline(features=("mfcc",)), catalog)
"""


def test_resume_after_sigkill(tmp_path: Path, params: dict, counted: list) -> None:
    audio = {
        f"t{i}": write_audio(tmp_path / f"t{i}.wav", tone(10.5, sr=22050, seed=i), 22050)
        for i in range(8)
    }
    soundtracks = make_soundtracks(audio)
    soundtracks.to_json(tmp_path / "soundtracks.json")
    (tmp_path / "params.json").write_text(json.dumps(params))
    store = tmp_path / "04_feature" / "mfcc"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path)],
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    while len(list(store.glob("*.npz"))) < 3 and time.monotonic() < deadline:
        assert child.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    survivors = sorted(p.stem for p in store.glob("*.npz"))
    assert 3 <= len(survivors) < len(audio)
    kept = FeatureStoreDataset(path=str(store), family="mfcc").load()
    for track_id in survivors:  # every partition under a track's name is complete
        assert kept[track_id].shape == (1 + round(10.5 * 22050) // 1024, 13)
    mtimes = {p: p.stat().st_mtime_ns for p in store.glob("*.npz")}

    run(tmp_path, soundtracks, params, features=("mfcc",))
    assert sorted(t.id for t in counted) == sorted(set(audio) - set(survivors))
    assert all(p.stat().st_mtime_ns == m for p, m in mtimes.items())
    assert sorted(p.name for p in store.iterdir()) == [f"{i}.npz" for i in sorted(audio)]


def test_changed_parameters_or_audio_are_recomputed(
    tmp_path: Path, params: dict, vggish_standin: Path, counted: list
) -> None:
    params["vggish"]["handle"] = str(vggish_standin)
    audio = {
        f"t{i}": write_audio(tmp_path / f"t{i}.wav", tone(11.0, sr=22050, seed=i), 22050)
        for i in range(3)
    }
    soundtracks = make_soundtracks(audio)
    run(tmp_path, soundtracks, params)
    assert len(counted) == 3

    counted.clear()
    params["mfcc"]["drop_c0"] = True
    run(tmp_path, soundtracks, params)
    assert {t.id: t.names for t in counted} == {f"t{i}": ("mfcc",) for i in range(3)}
    store = FeatureStoreDataset(path=str(tmp_path / "04_feature/mfcc"), family="mfcc").load()
    assert store["t0"].shape[1] == 12

    counted.clear()
    moved = tmp_path / "vggish-copy"
    shutil.copytree(vggish_standin, moved)
    params["vggish"]["handle"] = str(moved)
    run(tmp_path, soundtracks, params)
    assert {t.id: t.names for t in counted} == {f"t{i}": ("vggish",) for i in range(3)}

    counted.clear()
    write_audio(audio["t1"], tone(11.0, sr=22050, seed=99), 22050)
    run(tmp_path, soundtracks, params)
    assert [(t.id, t.names) for t in counted] == [("t1", ("mfcc", "vggish"))]


def test_a_stricter_silence_threshold_reaches_tracks_extracted_before(
    tmp_path: Path, params: dict, counted: list
) -> None:
    quiet = tone(11.0, sr=22050, seed=1)
    quiet *= 0.03 / np.abs(quiet).max()  # peak about -30 dBFS (-31 once mixed to mono)
    audio = {
        "loud": write_audio(tmp_path / "loud.wav", tone(11.0, sr=22050), 22050),
        "quiet": write_audio(tmp_path / "quiet.wav", quiet, 22050),
    }
    soundtracks = make_soundtracks(audio)
    run(tmp_path, soundtracks, params, features=("mfcc",))
    assert (pd.read_csv(tmp_path / "report.csv")["status"] == "ok").all()

    counted.clear()
    params["audio"]["silence_db"] = -20.0
    run(tmp_path, soundtracks, params, features=("mfcc",))
    assert sorted(t.id for t in counted) == ["loud", "quiet"]
    report = pd.read_csv(tmp_path / "report.csv").set_index("id")
    assert report.loc["loud", "status"] == "ok"
    assert report.loc["quiet", "status"] == "error"
    assert "is below -20 dBFS" in report.loc["quiet", "reason"]


def test_process_pool_gives_the_same_features(tmp_path: Path, params: dict) -> None:
    audio = {
        f"t{i}": write_audio(tmp_path / f"t{i}.flac", tone(10.5, sr=44100, seed=i), 44100)
        for i in range(4)
    }
    soundtracks = make_soundtracks(audio)
    params["workers"] = 2
    parallel = run(tmp_path / "parallel", soundtracks, params, features=("mfcc",))
    params["workers"] = 1
    inline = run(tmp_path / "inline", soundtracks, params, features=("mfcc",))
    a, b = parallel.load("mfcc_features"), inline.load("mfcc_features")
    assert sorted(a) == sorted(b) == sorted(audio)
    for track_id in audio:
        np.testing.assert_array_equal(a[track_id], b[track_id])


def test_preflight_fails_a_vggish_run_before_it_starts(tmp_path: Path, params: dict) -> None:
    params["vggish"]["handle"] = str(tmp_path / "no-vggish")
    catalog = DataCatalog({"params:feature_extraction": MemoryDataset(params)})
    hook = ModelPreflightHook()
    hook.before_pipeline_run({}, create_pipeline(features=("mfcc",)), catalog)  # no VGGish: fine
    with pytest.raises(ModelUnavailableError, match="no-vggish"):
        hook.before_pipeline_run({}, create_pipeline(), catalog)


def test_preflight_fails_a_musicnn_run_without_weights(tmp_path: Path, params: dict) -> None:
    params["musicnn"]["checkpoint"] = str(tmp_path / "no-weights")
    catalog = DataCatalog({"params:feature_extraction": MemoryDataset(params)})
    hook = ModelPreflightHook()
    hook.before_pipeline_run({}, create_pipeline(features=("mfcc",)), catalog)  # no MusiCNN: fine
    setup = r"python -m soundtrack_emotion\.core\.embeddings\.pretrained"
    with pytest.raises(ModelUnavailableError, match=setup):
        hook.before_pipeline_run({}, create_pipeline(features=OFFLINE_FEATURES), catalog)
    offline = create_pipeline(features=OFFLINE_FEATURES)
    assert {n.name for n in offline.only_nodes_with_tags("musicnn_model").nodes} == {
        "extract_features"
    }


def test_musicnn_joins_the_offline_run(
    tmp_path: Path, corpus: dict[str, Path], params: dict, musicnn_weights: str, counted: list
) -> None:
    keep = [*GOOD, "clip", "corrupt"]
    soundtracks = make_soundtracks({k: corpus[k] for k in keep})
    catalog = run(tmp_path, soundtracks, params, features=OFFLINE_FEATURES)
    report = pd.read_csv(tmp_path / "report.csv").set_index("id")
    assert set(report.index[report["status"] == "ok"]) == set(GOOD)
    assert "corrupt WAV file" in report.loc["corrupt", "reason"]
    # 31 s: 10 patches of 2.992 s -> two 5-patch (14.96 s) frames and one 10-patch frame.
    columns = [f"musicnn_{s}s_frames" for s in FRAME_SECONDS]
    assert report.loc["long", columns].tolist() == [2, 1]
    assert report.loc["short", columns].tolist() == [1, 1]  # 4 patches, padded
    tags = report.loc["long", "musicnn_top_tags"]
    assert len(tags.split(", ")) == 3 and tags.split(" ")[0] in MSD_TAGS

    store = catalog.load("musicnn_features")
    y16, _ = librosa.load(corpus["long"], sr=16000)
    layer = params["musicnn"]["layer"]
    embeddings, taggram = musicnn_features(y16, model=load_musicnn(None), layer=layer)
    width = 250 if layer == "dense+taggram" else 200
    assert store["long"].shape == (10, width)
    np.testing.assert_allclose(store["long"], embeddings, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(store.extra("long", "taggram"), taggram, rtol=1e-4, atol=1e-5)
    assert store.meta("corrupt")["status"] == "error"
    for seconds, rows in ((15, 5), (30, 10)):
        part = catalog.load(f"musicnn_{seconds}s")["train"]
        assert part.frame_shape == (rows, width)

    counted.clear()
    run(tmp_path, soundtracks, params, features=OFFLINE_FEATURES)
    assert {t.id for t in counted} == {"clip", "corrupt"}  # errors are retried, the rest kept
    params["musicnn"]["layer"] = "penultimate"  # another embedding: recomputed
    counted.clear()
    run(tmp_path, soundtracks, params, features=OFFLINE_FEATURES)
    # ... with the composite families that have MusiCNN as a member.
    extraction = nodes.ExtractionParams.from_dict(params)
    stale = tuple(f for f in OFFLINE_FEATURES if "musicnn" in extraction.with_members([f]))
    assert {t.id: t.names for t in counted if t.id in GOOD} == dict.fromkeys(GOOD, stale)


def test_catalog_and_parameters_resolve_from_conf() -> None:
    from kedro.config import OmegaConfigLoader

    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base", default_run_env="base")
    # Every family's entries come from the factories: adding a family adds none.
    mine = ("{family}_features", "existing_{family}_features", "{family}_{seconds:d}s")
    mine += ("feature_extraction_report",)
    catalog = DataCatalog.from_config({k: loader["catalog"][k] for k in mine})
    for family in FEATURES:
        for name in (f"{family}_features", f"existing_{family}_features"):
            dataset = catalog.get(name)
            assert isinstance(dataset, FeatureStoreDataset)
            assert dataset._describe()["path"] == f"data/04_feature/{family}"
        for seconds in FRAME_SECONDS:
            assert isinstance(catalog.get(f"{family}_{seconds}s"), ModelInputDataset)
    assert isinstance(catalog.get("feature_extraction_report"), CSVDataset)
    params = loader["parameters"]["feature_extraction"]
    assert nodes.ExtractionParams.from_dict(params).mfcc.hop_length == 1024


def test_bad_parameters_name_the_value(params: dict) -> None:
    from soundtrack_emotion.exceptions import ParameterError

    params["framing"]["short_track"]["policy"] = "stretch"
    with pytest.raises(ParameterError, match=r"short_track\.policy must be one of .* 'stretch'"):
        nodes.ExtractionParams.from_dict(params)
    params["framing"]["short_track"]["policy"] = "pad"
    params["vggish"]["batch_windows"] = 1
    with pytest.raises(ParameterError, match="batch_windows must be >= 2, got 1"):
        nodes.ExtractionParams.from_dict(params)
    del params["mfcc"]
    with pytest.raises(ParameterError, match="'mfcc' is missing"):
        nodes.ExtractionParams.from_dict(params)


CRASHY_MODULE = """
import os


def double_or_die(task):
    if task == 3:
        os._exit(13)  # what a segfaulting native decoder does to its worker
    return task * 2
"""


def test_a_task_that_kills_its_worker_fails_alone(tmp_path, monkeypatch) -> None:
    (tmp_path / "crashy_worker_task.py").write_text(CRASHY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))  # the forkserver's workers import it from here
    crashy = importlib.import_module("crashy_worker_task")
    crashes: list[tuple[int, bool, str]] = []

    def on_crash(task: int, error: BaseException) -> int:
        crashes.append((task, isinstance(error, BrokenProcessPool), str(error)))
        return -1

    results = list(
        map_tracks(crashy.double_or_die, range(8), workers=2, preload=(), on_crash=on_crash)
    )

    assert crashes == [
        (3, True, "the worker process died (exit code 13) while working on this track")
    ]
    assert sorted(results) == sorted([-1, *(2 * t for t in range(8) if t != 3)])
    with pytest.raises(BrokenProcessPool):
        list(map_tracks(crashy.double_or_die, range(8), workers=2, preload=()))


class _StoredFeatures:
    """A feature store stand-in: every track holds 2 whole 15 s MFCC frames of zeros."""

    rows = 2 * 323

    def meta(self, track_id: str) -> dict:
        return {"status": "ok", "n_rows": self.rows, "audio_seconds": 30.0}

    def __getitem__(self, track_id: str) -> np.ndarray:
        return np.zeros((self.rows, 13), np.float32)


def test_training_batches_mix_songs_from_across_the_corpus(tmp_path: Path, params: dict) -> None:
    """Songs listed in crawl order are written in a seeded random order, so a shuffled batch
    draws from the whole corpus, not from a few crawl-rank neighbours in one shard."""
    n_songs, batch_size = 400, 32
    soundtracks = pd.DataFrame(
        {
            "id": [f"song{i:04d}" for i in range(n_songs)],
            "audio_path": "unused.wav",
            "split": "train",
            # the valence label names the song's crawl rank, so a batch tells its songs
            "valence": np.arange(n_songs) / 1000.0,
            "arousal": 0.5,
            "dominance": 0.5,
        }
    )
    chunks = nodes.build_model_inputs(
        _StoredFeatures(), soundtracks, params, feature="mfcc", seconds=15
    )
    dataset = ModelInputDataset(path=str(tmp_path / "mfcc_15s"), shard_frames=64)
    dataset.save(chunks)
    train = dataset.load().train
    assert train.n_frames == 2 * n_songs
    stream = train.to_tf_dataset(
        labels="valence", batch_size=batch_size, shuffle=True, seed=1, shuffle_buffer=64
    )
    distinct, spans = [], []
    for _, targets in stream:
        ranks = np.rint(targets.numpy()[:, 0] * 1000).astype(int)
        if len(ranks) == batch_size:
            distinct.append(len(set(ranks)))
            spans.append(int(ranks.max() - ranks.min()))
    # crawl order would give 16 songs of neighbouring ranks per batch (span < 100)
    assert np.median(spans) > 0.8 * n_songs
    assert np.mean(distinct) > 0.8 * batch_size
