"""features: MFCC equal to librosa's, framing shapes and the short-track policy, VGGish
through the tests-only stand-in (loading, offline errors, bounded batches across tracks)."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import threading
from pathlib import Path

import librosa
import numpy as np
import pytest

from soundtrack_emotion.core.embeddings.vggish import (
    VGGISH_HANDLE,
    VggishBatcher,
    load_vggish,
    module_sha256,
    resolve_vggish,
    vggish_cache_dir,
    vggish_embeddings,
    vggish_windows,
)
from soundtrack_emotion.core.families.mfcc import MfccFamily, mfcc
from soundtrack_emotion.core.families.vggish import VggishFamily
from soundtrack_emotion.core.framing import count_frames, frame_features, frame_hop
from soundtrack_emotion.exceptions import AudioDecodeError, ModelUnavailableError, ParameterError
from soundtrack_emotion.runtime.feature_settings import ExtractionParams

from .conftest import WINDOW, standin_embeddings, tone

SR = 22050
# The families with the thesis's settings.
THESIS = {
    "mfcc": MfccFamily(sample_rate=SR, n_mfcc=13, n_fft=2048, hop_length=1024, drop_c0=False),
    "vggish": VggishFamily(handle=VGGISH_HANDLE, batch_windows=256),
}


def frame_length(feature: str, seconds: float) -> int:
    return THESIS[feature].frame_rows(seconds)


def signal(seconds: float, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    return tone(seconds, sr=sr, channels=1, seed=seed)[:, 0]


def test_mfcc_is_librosas_own_output_time_major() -> None:
    y = signal(16.0)
    expected = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13, n_fft=2048, hop_length=1024)
    out = mfcc(y)
    assert out.dtype == np.float32 and out.shape == (1 + len(y) // 1024, 13)
    np.testing.assert_array_equal(out, expected.T)


def test_mfcc_in_chunks_equals_the_whole_track() -> None:
    y = signal(20.0, seed=3)
    expected = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13, n_fft=2048, hop_length=1024).T
    chunked = mfcc(y, chunk_windows=37)
    assert chunked.shape == expected.shape
    np.testing.assert_allclose(chunked, expected, rtol=1e-5, atol=1e-3)


def test_drop_c0_removes_only_the_offset_coefficient() -> None:
    y = signal(5.0)
    full, dropped = mfcc(y), mfcc(y, drop_c0=True)
    assert dropped.shape == (full.shape[0], 12)
    np.testing.assert_array_equal(dropped, full[:, 1:])
    with pytest.raises(ParameterError, match="n_mfcc must be >= 2"):
        mfcc(y, n_mfcc=1, drop_c0=True)


@pytest.mark.parametrize(
    ("feature", "seconds", "rows"),
    [("mfcc", 15, 323), ("mfcc", 30, 646), ("vggish", 15, 15), ("vggish", 30, 30)],
)
def test_frame_lengths_of_the_thesis(feature: str, seconds: int, rows: int) -> None:
    assert frame_length(feature, seconds) == rows


def test_mfcc_frames_of_15_and_30_seconds_are_slices_of_librosas_mfcc() -> None:
    y = signal(65.0, seed=1)
    expected = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13, n_fft=2048, hop_length=1024).T
    for seconds, n_expected in ((15, 4), (30, 2)):
        length = frame_length("mfcc", seconds)
        frames = frame_features(mfcc(y), length=length, hop=length)
        assert frames.shape == (n_expected, length, 13)
        for i, frame in enumerate(frames):
            np.testing.assert_array_equal(frame, expected[i * length : (i + 1) * length])


def test_a_15_second_track_gives_exactly_one_15_second_frame() -> None:
    m = mfcc(signal(15.0))
    assert count_frames(len(m), length=323, hop=323) == 1
    assert frame_features(m, length=323, hop=323).shape == (1, 323, 13)


def test_frame_hop_fraction_overlaps_frames() -> None:
    x = np.arange(100 * 2, dtype=np.float32).reshape(100, 2)
    hop = frame_hop(30, hop=0.5)
    frames = frame_features(x, length=30, hop=hop)
    assert hop == 15 and frames.shape == (5, 30, 2)
    np.testing.assert_array_equal(frames[1], x[15:45])
    with pytest.raises(ParameterError, match=r"1\.5"):
        frame_hop(30, hop=1.5)


def test_short_track_policy_pad_or_drop() -> None:
    x = np.ones((10, 4), np.float32)
    padded = frame_features(x, length=15, hop=15, pad=True)
    assert padded.shape == (1, 15, 4)
    np.testing.assert_array_equal(padded[0, :10], x)
    np.testing.assert_array_equal(padded[0, 10:], x[:5])  # the track repeated, not zeros
    assert frame_features(x, length=15, hop=15, pad=False).shape == (0, 15, 4)
    assert count_frames(10, length=15, hop=15, pad=True) == 1
    assert count_frames(10, length=15, hop=15, pad=False) == 0


# ---------------------------------------------------------------------------------- VGGish


def test_standin_has_vggishs_signature(vggish_standin: Path) -> None:
    model = load_vggish(str(vggish_standin))
    assert model(np.zeros(WINDOW - 1, np.float32)).shape == (0, 128)
    out = model(signal(3.0, sr=16000))
    assert out.shape == (3, 128) and out.dtype == np.float32


def test_vggish_windows_counts_whole_windows_with_their_context() -> None:
    assert vggish_windows(WINDOW + 239) == 0
    assert vggish_windows(WINDOW + 240) == 1
    assert vggish_windows(15 * 16000) == 15


def test_chunked_embeddings_equal_one_call_on_the_whole_track(vggish_standin: Path) -> None:
    model = load_vggish(str(vggish_standin))
    y = signal(40.0, sr=16000, seed=2)
    out = vggish_embeddings(y, model=model, batch_windows=7)
    n = vggish_windows(len(y))
    assert out.shape == (n, 128) == (41, 128)
    np.testing.assert_allclose(out, standin_embeddings(y)[:n], rtol=1e-5, atol=1e-5)


def test_batching_across_tracks_gives_each_track_its_own_embeddings(vggish_standin: Path) -> None:
    model = load_vggish(str(vggish_standin))
    calls: list[int] = []

    def counting(waveform: np.ndarray) -> np.ndarray:
        calls.append(len(waveform))
        return model(waveform)

    tracks = {f"t{i}": signal(s, sr=16000, seed=i) for i, s in enumerate((2.5, 7.0, 1.2, 30.0))}
    batcher = VggishBatcher(counting, batch_windows=12)
    done = {}
    for key, y in tracks.items():
        done.update(batcher.add(key, y))
    done.update(batcher.flush())
    assert batcher.pending == 0 and set(done) == set(tracks)
    for key, y in tracks.items():
        n = vggish_windows(len(y))
        np.testing.assert_allclose(done[key], standin_embeddings(y)[:n], rtol=1e-5, atol=1e-5)
    assert max(calls) <= 12 * WINDOW  # bounded calls ...
    assert len(calls) < sum(vggish_windows(len(y)) for y in tracks.values())  # ... but batched
    assert set(batcher.seconds_spent) == set(tracks)


def test_vggish_rejects_a_track_under_one_window(vggish_standin: Path) -> None:
    model = load_vggish(str(vggish_standin))
    with pytest.raises(AudioDecodeError, match="shorter than one VGGish window"):
        vggish_embeddings(signal(0.5, sr=16000), model=model)


@pytest.fixture
def project_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty project cache ($SOUNDTRACK_EMOTION_CACHE), nothing resolved or loaded yet."""
    cache = tmp_path / "project-cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("SOUNDTRACK_EMOTION_CACHE", str(cache))
    monkeypatch.delenv("TFHUB_CACHE_DIR", raising=False)
    for cached in (load_vggish, resolve_vggish):
        cached.cache_clear()
    yield cache
    for cached in (load_vggish, resolve_vggish):
        cached.cache_clear()


@pytest.fixture
def fake_hub(vggish_standin: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """TF Hub's download, faked (tests never touch the network): it puts the stand-in where
    TF Hub would, under $TFHUB_CACHE_DIR/<sha1(url)>; returns the cache folders it used."""
    import tensorflow_hub as hub

    used = []
    monkeypatch.setenv("SOUNDTRACK_EMOTION_FETCH", "1")  # downloads allowed: this one is fake

    def resolve(handle: str) -> str:
        root = Path(os.environ["TFHUB_CACHE_DIR"])
        used.append(str(root))
        target = root / hashlib.sha1(handle.encode()).hexdigest()
        shutil.copytree(vggish_standin, target)
        return str(target)

    monkeypatch.setattr(hub, "resolve", resolve)
    return used


def test_the_default_handle_is_cached_in_the_project_cache_and_checked(
    project_cache: Path, fake_hub: list[str]
) -> None:
    model = load_vggish()
    directory = vggish_cache_dir()
    assert fake_hub == [str(project_cache / "tfhub")]  # never /tmp/tfhub_modules
    assert directory.parent == project_cache / "tfhub"
    assert model.handle == VGGISH_HANDLE and model.sha256 == module_sha256(directory)
    assert model(signal(2.0, sr=16000)).shape == (2, 128)
    assert os.environ.get("TFHUB_CACHE_DIR") is None  # only while downloading
    load_vggish.cache_clear(), resolve_vggish.cache_clear()
    assert load_vggish().sha256 == model.sha256 and len(fake_hub) == 1  # offline from now on


def test_a_fingerprint_never_downloads_the_model(
    project_cache: Path, fake_hub: list[str], params: dict
) -> None:
    extraction = ExtractionParams.from_dict(params)
    with pytest.raises(ModelUnavailableError, match="not in the cache"):
        extraction.fingerprint("vggish")
    assert fake_hub == []  # nothing fetched for a model nobody runs
    load_vggish()  # a run that extracts VGGish fetches it; its fingerprint then has the hash
    assert extraction.fingerprint("vggish") != ""


def test_a_modified_cache_is_refused(project_cache: Path, fake_hub: list[str]) -> None:
    recorded = load_vggish().sha256
    variables = next((vggish_cache_dir() / "variables").glob("*.data-*"))
    variables.write_bytes(variables.read_bytes()[:-4] + b"evil")
    load_vggish.cache_clear(), resolve_vggish.cache_clear()
    with pytest.raises(ModelUnavailableError) as error:
        load_vggish()
    message = str(error.value)
    assert f"{vggish_cache_dir()} has been modified" in message and recorded in message
    assert module_sha256(vggish_cache_dir()) in message and "delete" in message


def test_a_planted_cache_is_refused_unless_its_hash_is_pinned(
    project_cache: Path, vggish_standin: Path
) -> None:
    shutil.copytree(vggish_standin, vggish_cache_dir())  # not downloaded: no record beside it
    digest = module_sha256(vggish_cache_dir())
    with pytest.raises(ModelUnavailableError, match="was not downloaded by this project") as error:
        load_vggish()
    assert f"feature_extraction.vggish.sha256: {digest}" in str(error.value)
    family = VggishFamily(handle=VGGISH_HANDLE, batch_windows=256, sha256=digest)
    assert family.load("float32").sha256 == digest  # pinned by the user: used
    with pytest.raises(ModelUnavailableError, match=f"{'0' * 64} is pinned"):
        load_vggish(VGGISH_HANDLE, "float32", "0" * 64)


def test_a_cache_every_user_may_write_is_refused(project_cache: Path, fake_hub: list[str]) -> None:
    load_vggish()
    load_vggish.cache_clear(), resolve_vggish.cache_clear()
    vggish_cache_dir().chmod(0o777)
    with pytest.raises(ModelUnavailableError, match="may be written by every user"):
        load_vggish()


def test_the_model_content_is_in_the_vggish_fingerprint(
    vggish_standin: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(vggish_standin, other)
    (other / "variables" / "variables.index").write_bytes(b"\0" * 16)
    first, second = (
        VggishFamily(handle=str(d), batch_windows=256) for d in (vggish_standin, other)
    )
    assert first.spec()["module_sha256"] == module_sha256(vggish_standin)
    assert first.spec()["module_sha256"] != second.spec()["module_sha256"]


def test_missing_local_model_says_how_to_provide_it(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError) as error:
        load_vggish(str(tmp_path / "no-model-here"))
    message = str(error.value)
    assert "no-model-here" in message and "No other model is substituted" in message
    assert "SOUNDTRACK_EMOTION_CACHE" in message and "kedro run --pipelines=offline" in message


def test_unreachable_hub_is_a_model_unavailable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a local port nobody listens on: "offline"
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SOUNDTRACK_EMOTION_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("SOUNDTRACK_EMOTION_FETCH", "1")  # a download from a loopback port
    handle = f"http://127.0.0.1:{port}/google/vggish/1"
    with pytest.raises(ModelUnavailableError, match="pre-filled cache"):
        load_vggish(handle)


def test_a_model_with_another_signature_is_refused(tmp_path: Path) -> None:
    import tensorflow as tf

    class NotVggish(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, waveform: tf.Tensor) -> tf.Tensor:
            return tf.zeros([1, 521])  # e.g. YAMNet's class scores

    tf.saved_model.save(NotVggish(), str(tmp_path / "other"))
    with pytest.raises(ModelUnavailableError, match="is not VGGish"):
        load_vggish(str(tmp_path / "other"))


def test_a_hub_serving_garbage_is_a_model_unavailable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>not a model</html>")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SOUNDTRACK_EMOTION_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SOUNDTRACK_EMOTION_FETCH", "1")  # from the loopback server
    try:
        with pytest.raises(ModelUnavailableError, match="VGGish cannot be loaded"):
            load_vggish(f"http://127.0.0.1:{server.server_port}/vggish/1")
    finally:
        server.shutdown()


def test_a_queued_piece_does_not_keep_its_whole_track_alive() -> None:
    import gc
    import weakref

    batcher = VggishBatcher(
        lambda y: np.zeros((vggish_windows(len(y)), 128), np.float32), batch_windows=8
    )
    track = signal(59.0, sr=16000).copy()  # owns its samples
    alive = weakref.ref(track)
    batcher.add("long", track)  # 61 windows: eight calls of 7, the last 5 stay queued
    assert batcher.pending == 1
    del track
    gc.collect()
    assert alive() is None, "the queued tail still references the whole 59 s waveform"
