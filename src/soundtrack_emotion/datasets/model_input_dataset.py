"""Framed model inputs stored as shards, read back as a stream.

Layout of one dataset (e.g. ``data/05_model_input/mfcc_15s``)::

    train/manifest.json          {"n_frames", "frame_shape", "label_names", "shards": [...]}
    train/shard-00000.npz        frames [n, T, F] float32, song_id [n] str,
                                 frame_index [n] int32, labels [n, k] float32
    validation/...  test/...

``label_names`` names the ``k`` label columns: the first ``k`` of ``MODEL_INPUT_LABELS``
(valence, arousal, dominance, then the quadrant signs ``valence_positive`` and
``arousal_high``; NaN where a song has no such label). Inputs written before the signs
existed have the three VAD columns and read the same.

Frames never need to be in memory together: ``save`` consumes chunks one at a time and
``FrameSplit.to_tf_dataset`` reads one shard at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from soundtrack_emotion.core.vocabulary import MODEL_INPUT_LABELS, SPLITS, VAD_LABELS
from soundtrack_emotion.exceptions import ParameterError

MANIFEST = "manifest.json"
DEFAULT_SHARD_FRAMES = 1024


@dataclass(frozen=True)
class FrameChunk:
    """A batch of frames: ``frames`` [n, T, F] float32, ``song_id`` [n] str,
    ``frame_index`` [n] int32 (position of the frame in its song), ``labels`` [n, k] float32
    (the first ``k`` of ``MODEL_INPUT_LABELS``: k = 3, the VAD values, or 5 with the signs)."""

    frames: np.ndarray
    song_id: np.ndarray
    frame_index: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.frames)
        if self.frames.ndim != 3:
            raise ParameterError(f"frames must be [n, T, F], got shape {self.frames.shape}")
        lengths = {len(self.song_id), len(self.frame_index), len(self.labels)}
        if lengths != {n}:
            raise ParameterError(f"chunk arrays disagree in length: {n} frames vs {lengths}")

    def __len__(self) -> int:
        return len(self.frames)


class FrameSplit:
    """Read-only, streaming view of one split (``train``, ``validation`` or ``test``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        manifest = json.loads((self.path / MANIFEST).read_text())
        self.n_frames: int = manifest["n_frames"]
        self.frame_shape: tuple[int, int] = tuple(manifest["frame_shape"])
        self.label_names: tuple[str, ...] = tuple(manifest["label_names"])
        self._shards: list[str] = [s["file"] for s in manifest["shards"]]

    def __len__(self) -> int:
        return self.n_frames

    def __repr__(self) -> str:
        return f"FrameSplit({self.path}, n_frames={self.n_frames}, frame_shape={self.frame_shape})"

    def iter_chunks(self, *, shard_order: Iterable[int] | None = None) -> Iterator[FrameChunk]:
        """Yield the stored shards one at a time (bounded memory)."""
        order = range(len(self._shards)) if shard_order is None else shard_order
        for i in order:
            with np.load(self.path / self._shards[i], allow_pickle=False) as shard:
                yield FrameChunk(
                    frames=shard["frames"],
                    song_id=shard["song_id"],
                    frame_index=shard["frame_index"],
                    labels=shard["labels"],
                )

    def _column(self, name: str) -> np.ndarray:
        parts = []
        for shard_file in self._shards:
            with np.load(self.path / shard_file, allow_pickle=False) as shard:
                parts.append(shard[name])
        return np.concatenate(parts) if parts else np.empty((0,))

    def song_ids(self) -> np.ndarray:
        """Song id of every frame, [n_frames] str, in storage order."""
        return self._column("song_id").astype(str)

    def frame_indices(self) -> np.ndarray:
        """Index of every frame within its song, [n_frames] int32, in storage order."""
        return self._column("frame_index").astype(np.int32)

    def labels(self) -> np.ndarray:
        """Labels of every frame, [n_frames, len(label_names)] float32, in storage order."""
        labels = self._column("labels")
        return labels.reshape(-1, len(self.label_names)).astype(np.float32)

    def label_index(self, label: str | Iterable[str]) -> list[int]:
        names = [label] if isinstance(label, str) else list(label)
        unknown = [n for n in names if n not in self.label_names]
        if unknown:
            raise ParameterError(f"unknown label(s) {unknown}; known: {list(self.label_names)}")
        return [self.label_names.index(n) for n in names]

    def n_finite(self, labels: str | Iterable[str]) -> int:
        """How many frames have a finite value for every one of ``labels``."""
        return int(np.isfinite(self.labels()[:, self.label_index(labels)]).all(axis=1).sum())

    def to_tf_dataset(
        self,
        *,
        labels: str | Iterable[str] = VAD_LABELS,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int = 0,
        shuffle_buffer: int = 2048,
        finite_only: bool = False,
    ) -> Any:
        """A ``tf.data.Dataset`` of ``(frames [b, T, F], targets [b, k])`` batches, streamed
        shard by shard. Shuffling permutes the shard order and then frames within a buffer,
        both seeded, so two runs with the same seed see the same batches. ``finite_only``
        leaves out the frames whose targets are not all finite (songs without those labels:
        :meth:`n_finite` counts the rest)."""
        import tensorflow as tf

        if batch_size < 1:
            raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
        columns = self.label_index(labels)
        n_shards = len(self._shards)
        epoch = {"n": 0}

        def generate() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            order = range(n_shards)
            if shuffle:
                order = np.random.default_rng([seed, epoch["n"]]).permutation(n_shards)
                epoch["n"] += 1
            for chunk in self.iter_chunks(shard_order=order):
                targets = chunk.labels[:, columns]
                if finite_only:
                    keep = np.isfinite(targets).all(axis=1)
                    yield from zip(chunk.frames[keep], targets[keep], strict=True)
                else:
                    yield from zip(chunk.frames, targets, strict=True)

        t, f = self.frame_shape
        dataset = tf.data.Dataset.from_generator(
            generate,
            output_signature=(
                tf.TensorSpec(shape=(t, f), dtype=tf.float32),
                tf.TensorSpec(shape=(len(columns),), dtype=tf.float32),
            ),
        )
        if shuffle:
            dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(2)


@dataclass(frozen=True)
class ModelInputs:
    """The three splits of one feature family and frame length."""

    train: FrameSplit
    validation: FrameSplit
    test: FrameSplit

    def __getitem__(self, split: str) -> FrameSplit:
        if split not in SPLITS:
            raise ParameterError(f"unknown split {split!r}; known: {list(SPLITS)}")
        return getattr(self, split)


def _label_width(chunk: FrameChunk) -> int:
    width = chunk.labels.shape[1] if chunk.labels.ndim == 2 else 0
    if width not in (len(VAD_LABELS), len(MODEL_INPUT_LABELS)):
        raise DatasetError(
            f"labels must be [n, {len(VAD_LABELS)}] or [n, {len(MODEL_INPUT_LABELS)}] "
            f"({list(MODEL_INPUT_LABELS)}), got shape {chunk.labels.shape}"
        )
    return width


def _write_split(target: Path, chunks: Iterable[FrameChunk], shard_frames: int) -> None:
    target.mkdir(parents=True)
    shards: list[dict[str, Any]] = []
    frame_shape: tuple[int, ...] | None = None
    pending: list[FrameChunk] = []
    pending_n = 0
    n_labels = len(VAD_LABELS)

    def flush() -> None:
        nonlocal pending, pending_n
        if not pending:
            return
        name = f"shard-{len(shards):05d}.npz"
        np.savez(
            target / name,
            frames=np.concatenate([c.frames for c in pending]).astype(np.float32, copy=False),
            song_id=np.concatenate([c.song_id for c in pending]).astype(str),
            frame_index=np.concatenate([c.frame_index for c in pending]).astype(np.int32),
            labels=np.concatenate([c.labels for c in pending]).astype(np.float32, copy=False),
        )
        shards.append({"file": name, "n": pending_n})
        pending, pending_n = [], 0

    for chunk in chunks:
        if not len(chunk):
            continue
        shape = tuple(chunk.frames.shape[1:])
        if frame_shape is None:
            frame_shape, n_labels = shape, _label_width(chunk)
        elif _label_width(chunk) != n_labels:
            raise DatasetError(f"label columns changed within a split: {n_labels} then "
                               f"{_label_width(chunk)}")
        elif shape != frame_shape:
            raise DatasetError(f"frame shape changed within a split: {frame_shape} then {shape}")
        pending.append(chunk)
        pending_n += len(chunk)
        if pending_n >= shard_frames:
            flush()
    flush()
    manifest = {
        "n_frames": sum(s["n"] for s in shards),
        "frame_shape": list(frame_shape or (0, 0)),
        "label_names": list(MODEL_INPUT_LABELS[:n_labels]),
        "shards": shards,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1))


class ModelInputDataset(AbstractDataset[Mapping[str, Iterable[FrameChunk]], ModelInputs]):
    """Kedro dataset for framed model inputs with ``train``/``validation``/``test`` parts.

    ``save`` takes ``{split: iterable of FrameChunk}`` and streams it to shards; the whole
    dataset is first written next to its final place and then moved in, so a crash never
    leaves a half-written dataset behind. ``load`` returns a lazy :class:`ModelInputs`.

    Example catalog entry::

        "{family}_{seconds:d}s":
          type: soundtrack_emotion.datasets.ModelInputDataset
          path: data/05_model_input/{family}_{seconds:d}s
    """

    def __init__(
        self,
        *,
        path: str,
        shard_frames: int = DEFAULT_SHARD_FRAMES,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if shard_frames < 1:
            raise ParameterError(f"shard_frames must be >= 1, got {shard_frames}")
        self._path = Path(PurePosixPath(path))
        self._shard_frames = shard_frames
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "shard_frames": self._shard_frames}

    def _exists(self) -> bool:
        return all((self._path / split / MANIFEST).is_file() for split in SPLITS)

    def load(self) -> ModelInputs:
        if not self._exists():
            raise DatasetError(f"no model inputs at {self._path}: run feature_extraction first")
        return ModelInputs(**{split: FrameSplit(self._path / split) for split in SPLITS})

    def save(self, data: Mapping[str, Iterable[FrameChunk]]) -> None:
        missing = [split for split in SPLITS if split not in data]
        if missing:
            raise DatasetError(f"model inputs lack split(s) {missing}")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        staging = self._path.with_name(f".{self._path.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            for split in SPLITS:
                _write_split(staging / split, data[split], self._shard_frames)
            retired = None
            if self._path.exists():
                retired = self._path.with_name(f".{self._path.name}.old-{uuid.uuid4().hex[:8]}")
                os.replace(self._path, retired)
            os.replace(staging, self._path)
            if retired is not None:
                shutil.rmtree(retired, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
