"""FeatureStoreDataset: atomic partitions with their fingerprint, read back lazily."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from kedro.io import DatasetError

from soundtrack_emotion.datasets import FeatureRecord, FeatureStoreDataset, SourceStamp


def record(track_id: str, rows: int = 4, *, fingerprint: str = "fp1", **kw) -> FeatureRecord:
    features = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)
    return FeatureRecord(
        id=track_id,
        family="mfcc",
        fingerprint=fingerprint,
        features=features,
        audio_seconds=12.5,
        seconds=0.25,
        **kw,
    )


def test_round_trip_is_lazy_and_skips_error_records(tmp_path: Path) -> None:
    dataset = FeatureStoreDataset(path=str(tmp_path / "mfcc"), family="mfcc")
    assert not dataset.exists()
    dataset.save({"a": record("a"), "b": record("b", 6)})
    dataset.save([FeatureRecord.error(id="c", family="mfcc", fingerprint="fp1", reason="silent")])
    store = dataset.load()
    assert store.record_ids() == ["a", "b", "c"]
    assert sorted(store) == ["a", "b"] and len(store) == 2 and "c" not in store
    np.testing.assert_array_equal(store["b"], record("b", 6).features)
    assert store.meta("c")["reason"] == "silent" and store.meta("a")["n_rows"] == 4
    table = store.table().set_index("id")
    assert table.loc["c", "status"] == "error" and table.loc["b", "n_rows"] == 6
    with pytest.raises(KeyError):
        store["c"]


def test_is_current_needs_same_fingerprint_and_same_audio(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x" * 10)
    stamp = SourceStamp.of(audio)
    dataset = FeatureStoreDataset(path=str(tmp_path / "mfcc"), family="mfcc")
    dataset.save([record("a", source=stamp)])
    store = dataset.load()
    assert store.is_current("a", fingerprint="fp1", source=stamp)
    assert not store.is_current("a", fingerprint="fp2", source=stamp)
    assert not store.is_current("missing", fingerprint="fp1", source=stamp)
    audio.write_bytes(b"y" * 11)
    assert not store.is_current("a", fingerprint="fp1", source=SourceStamp.of(audio))
    assert SourceStamp.of(tmp_path / "gone.wav") is None


def test_the_same_file_by_another_spelling_of_its_path_is_current(tmp_path: Path) -> None:
    (tmp_path / "music").mkdir()
    audio = tmp_path / "music" / "a.wav"
    audio.write_bytes(b"x" * 10)
    (tmp_path / "link").symlink_to(tmp_path / "music")
    dataset = FeatureStoreDataset(path=str(tmp_path / "mfcc"), family="mfcc")
    dataset.save([record("a", source=SourceStamp.of(audio))])
    store = dataset.load()
    for spelling in (tmp_path / "music" / ".." / "music" / "a.wav", tmp_path / "link" / "a.wav"):
        assert store.is_current("a", fingerprint="fp1", source=SourceStamp.of(spelling))
    other = tmp_path / "b.wav"
    other.write_bytes(b"x" * 10)
    os.utime(other, ns=(audio.stat().st_atime_ns, audio.stat().st_mtime_ns))
    assert not store.is_current("a", fingerprint="fp1", source=SourceStamp.of(other))


def test_a_crash_while_writing_leaves_no_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = FeatureStoreDataset(path=str(tmp_path / "mfcc"), family="mfcc")
    dataset.save([record("a")])
    before = (tmp_path / "mfcc" / "a.npz").read_bytes()

    def die_half_way(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", die_half_way)
    with pytest.raises(KeyboardInterrupt):
        dataset.save([record("a", 9), record("b")])
    assert sorted(p.name for p in (tmp_path / "mfcc").iterdir()) == ["a.npz"]
    assert (tmp_path / "mfcc" / "a.npz").read_bytes() == before


def test_leftover_temporaries_of_a_killed_run_are_swept(tmp_path: Path) -> None:
    folder = tmp_path / "mfcc"
    folder.mkdir()
    (folder / ".a.npz.tmp-1234abcd").write_bytes(b"half")
    dataset = FeatureStoreDataset(path=str(folder), family="mfcc")
    assert dataset.load().record_ids() == []
    dataset.save([record("b")])
    assert sorted(p.name for p in folder.iterdir()) == ["b.npz"]


def test_records_are_checked(tmp_path: Path) -> None:
    dataset = FeatureStoreDataset(path=str(tmp_path / "mfcc"), family="mfcc")
    with pytest.raises(DatasetError, match="'vggish' record"):
        dataset.save(
            [
                FeatureRecord(
                    id="a",
                    family="vggish",
                    fingerprint="f",
                    features=np.zeros((1, 128), np.float32),
                )
            ]
        )
    with pytest.raises(DatasetError, match="not usable as a file name"):
        dataset.save([record("../escape")])
    with pytest.raises(DatasetError, match=r"must be \[T, F\]"):
        record("a").__class__(id="a", family="mfcc", fingerprint="f", features=np.zeros(3))
