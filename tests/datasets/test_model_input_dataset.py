import json

import numpy as np
import pytest
from kedro.io import DatasetError

from soundtrack_emotion.core.vocabulary import SPLITS
from soundtrack_emotion.datasets import FrameChunk, ModelInputDataset
from soundtrack_emotion.exceptions import ParameterError


def _chunk(song: str, n: int, *, t: int = 4, f: int = 3, start: float = 0.0) -> FrameChunk:
    frames = (start + np.arange(n * t * f, dtype=np.float32)).reshape(n, t, f)
    return FrameChunk(
        frames=frames,
        song_id=np.array([song] * n),
        frame_index=np.arange(n, dtype=np.int32),
        labels=np.tile(np.array([[0.1, 0.5, 0.9]], dtype=np.float32), (n, 1)),
    )


def _splits(n_train: int = 5) -> dict[str, list[FrameChunk]]:
    return {
        "train": [_chunk("a", n_train), _chunk("b", 2, start=1000.0)],
        "validation": [_chunk("c", 1)],
        "test": [_chunk("d", 3)],
    }


def test_round_trip_keeps_every_frame_in_order(tmp_path):
    dataset = ModelInputDataset(path=str(tmp_path / "mfcc_15s"), shard_frames=3)
    dataset.save(_splits())
    inputs = dataset.load()

    assert inputs.train.n_frames == 7
    assert inputs.train.frame_shape == (4, 3)
    assert list(inputs.train.song_ids()) == ["a"] * 5 + ["b"] * 2
    assert list(inputs.train.frame_indices()) == [0, 1, 2, 3, 4, 0, 1]
    np.testing.assert_allclose(inputs.test.labels(), [[0.1, 0.5, 0.9]] * 3)
    chunks = list(inputs.train.iter_chunks())
    assert [len(c) for c in chunks] == [5, 2]  # shards close once they reach shard_frames
    np.testing.assert_array_equal(chunks[0].frames, _chunk("a", 5).frames)


def test_chunks_are_consumed_lazily(tmp_path):
    consumed = []

    def stream():
        for i in range(4):
            consumed.append(i)
            yield _chunk(f"s{i}", 2)

    data = {"train": stream(), "validation": [_chunk("v", 1)], "test": [_chunk("t", 1)]}
    ModelInputDataset(path=str(tmp_path / "x"), shard_frames=2).save(data)
    split = ModelInputDataset(path=str(tmp_path / "x")).load().train
    manifest = json.loads((tmp_path / "x" / "train" / "manifest.json").read_text())
    assert consumed == [0, 1, 2, 3]
    assert [s["n"] for s in manifest["shards"]] == [2, 2, 2, 2]
    assert split.n_frames == 8


def test_failed_save_leaves_previous_dataset_untouched(tmp_path):
    path = tmp_path / "vggish_30s"
    dataset = ModelInputDataset(path=str(path))
    dataset.save(_splits())

    def broken():
        yield _chunk("z", 2)
        raise RuntimeError("worker died")

    with pytest.raises(DatasetError, match="worker died"):
        dataset.save({"train": broken(), "validation": [], "test": []})

    assert dataset.load().train.n_frames == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vggish_30s"]


def test_missing_split_and_inconsistent_shapes_are_rejected(tmp_path):
    dataset = ModelInputDataset(path=str(tmp_path / "m"))
    with pytest.raises(DatasetError, match="validation"):
        dataset.save({"train": [], "test": []})
    with pytest.raises(DatasetError, match="frame shape changed"):
        dataset.save({"train": [_chunk("a", 1), _chunk("b", 1, t=5)], "validation": [], "test": []})
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="run feature_extraction first"):
        dataset.load()


def test_bad_parameters_name_the_value(tmp_path):
    with pytest.raises(ParameterError, match="shard_frames must be >= 1, got 0"):
        ModelInputDataset(path=str(tmp_path), shard_frames=0)
    with pytest.raises(ParameterError, match="length"):
        FrameChunk(
            frames=np.zeros((2, 3, 4), np.float32),
            song_id=np.array(["a"]),
            frame_index=np.zeros(2, np.int32),
            labels=np.zeros((2, 3), np.float32),
        )


def test_tf_dataset_streams_selected_labels_reproducibly(tmp_path):
    dataset = ModelInputDataset(path=str(tmp_path / "m"), shard_frames=2)
    dataset.save(_splits(n_train=9))
    train = dataset.load()["train"]

    plain = [y.numpy() for _, y in train.to_tf_dataset(labels="arousal", batch_size=4)]
    assert [b.shape for b in plain] == [(4, 1), (4, 1), (3, 1)]
    np.testing.assert_allclose(np.concatenate(plain), 0.5)

    def first_epoch(seed):
        ds = train.to_tf_dataset(labels=("valence",), batch_size=11, shuffle=True, seed=seed)
        return next(iter(ds))[0].numpy()

    np.testing.assert_array_equal(first_epoch(7), first_epoch(7))
    assert first_epoch(7).shape == (11, 4, 3)
    with pytest.raises(ParameterError, match="unknown label"):
        train.to_tf_dataset(labels="joy")
    with pytest.raises(ParameterError, match="unknown split 'dev'"):
        dataset.load()["dev"]
    assert set(SPLITS) == {"train", "validation", "test"}
