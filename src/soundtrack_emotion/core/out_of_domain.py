"""How far a track's features lie from the corpus a model was trained on (out of domain).

A track is described by its *blocks*: consecutive runs of about ``BLOCK_SECONDS`` of feature
rows, each summarised by its rows' per-feature mean and standard deviation (a single row,
e.g. one MusiCNN patch, is its own block). Features are standardised with the training
blocks' mean and scale. A block's distance is the Euclidean distance to its ``neighbours``-th
nearest training block, divided by the square root of the block width (so values of different
feature families read alike); a track's distance is the median over its blocks, robust to a
few odd seconds (applause, a silent gap).

The k-NN distance suits corpora that are several clusters (classical, rock, electronic ...),
where one Gaussian (Mahalanobis) would call the gap between clusters "in domain". The
threshold is the ``quantile`` of the *validation* songs' distances: with the default 0.95,
about 1 in 20 unseen songs of the training corpus's kind is flagged (the false-alarm rate the
threshold is calibrated to). A track's ``domain_score`` is its distance over the threshold, so
above 1 means out of domain.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from soundtrack_emotion.exceptions import DataValidationError, ParameterError

BLOCK_SECONDS = 3.0
DEFAULT_NEIGHBOURS = 5
DEFAULT_QUANTILE = 0.95
DEFAULT_MAX_REFERENCE_BLOCKS = 10_000
# Fewer validation songs than this give a rough threshold (said in the log, not refused).
MIN_CALIBRATION_SONGS = 20
# Standard deviations below this (a feature constant over the training blocks) count as 1.
_MIN_SCALE = 1e-8


def block_rows(row_seconds: float) -> int:
    """Feature rows per block: ``BLOCK_SECONDS`` of rows, at least one."""
    if not row_seconds > 0:
        raise ParameterError(f"row_seconds must be > 0, got {row_seconds!r}")
    return max(1, round(BLOCK_SECONDS / row_seconds))


def feature_blocks(matrix: np.ndarray, *, rows_per_block: int) -> np.ndarray:
    """Blocks of a feature matrix [rows, F] -> [blocks, 2F] (mean and standard deviation of
    each run of ``rows_per_block`` rows; the remainder joins the last block), or the rows
    themselves [rows, F] when ``rows_per_block`` is 1."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or not len(matrix):
        raise DataValidationError(f"features must be [rows, F] with rows > 0, got {matrix.shape}")
    if rows_per_block == 1:
        return matrix
    n_blocks = max(1, len(matrix) // rows_per_block)
    edges = np.linspace(0, len(matrix), n_blocks + 1).astype(np.int64)
    # Equal-length runs but the last: sums per run by reduceat, then the moments.
    counts = np.diff(edges)[:, None]
    means = np.add.reduceat(matrix, edges[:-1], axis=0) / counts
    squares = np.add.reduceat(matrix**2, edges[:-1], axis=0) / counts
    return np.concatenate([means, np.sqrt(np.maximum(squares - means**2, 0.0))], axis=1)


@dataclass(frozen=True)
class DomainReference:
    """A feature family's training corpus as the out-of-domain score sees it.

    ``blocks`` [N, W]: standardised training blocks (at most ``max_blocks``, a seeded sample);
    ``mean``/``scale`` [W]: their standardisation; ``threshold``: the validation songs'
    ``quantile`` distance; ``corpus_fingerprint``/``features_fingerprint``: what it was fitted
    on (inference uses it only for models of that corpus and features).
    """

    feature: str
    rows_per_block: int
    mean: np.ndarray
    scale: np.ndarray
    blocks: np.ndarray
    neighbours: int
    quantile: float
    threshold: float
    n_train_songs: int
    n_validation_songs: int
    corpus_fingerprint: str
    features_fingerprint: str
    _index: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def distance(self, matrix: np.ndarray) -> float:
        """The track distance of a feature matrix [rows, F] (median block distance)."""
        blocks = feature_blocks(matrix, rows_per_block=self.rows_per_block)
        return float(np.median(self.block_distances(blocks)))

    def score(self, matrix: np.ndarray) -> float:
        """``distance / threshold``: above 1 is out of domain."""
        return self.distance(matrix) / self.threshold

    def block_distances(self, blocks: np.ndarray) -> np.ndarray:
        """Distance of each block [n, W] (:func:`feature_blocks`) to the training blocks."""
        if blocks.shape[1] != self.blocks.shape[1]:
            raise DataValidationError(
                f"{self.feature} domain reference has blocks of width {self.blocks.shape[1]}, "
                f"the track's are {blocks.shape[1]}: were the features changed after training?"
            )
        if "knn" not in self._index:
            from sklearn.neighbors import NearestNeighbors

            self._index["knn"] = NearestNeighbors(n_neighbors=self.neighbours).fit(self.blocks)
        standardised = (np.asarray(blocks, np.float64) - self.mean) / self.scale
        distances, _ = self._index["knn"].kneighbors(standardised.astype(np.float32))
        return distances[:, -1].astype(np.float64) / math.sqrt(self.blocks.shape[1])

    @property
    def fingerprint(self) -> str:
        """Hash of everything a score depends on (part of inference's cache fingerprint)."""
        digest = hashlib.sha256(
            f"{self.feature}|{self.rows_per_block}|{self.neighbours}|{self.threshold!r}".encode()
        )
        for array in (self.mean, self.scale, self.blocks):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (for ``np.savez``: no pickled objects)."""
        scalars = {
            name: np.asarray(getattr(self, name))
            for name in (
                "feature", "rows_per_block", "neighbours", "quantile", "threshold",
                "n_train_songs", "n_validation_songs", "corpus_fingerprint",
                "features_fingerprint",
            )
        }  # fmt: skip
        return {**scalars, "mean": self.mean, "scale": self.scale, "blocks": self.blocks}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> DomainReference:
        def scalar(name: str) -> Any:
            return np.asarray(arrays[name]).item()

        return cls(
            feature=str(scalar("feature")),
            rows_per_block=int(scalar("rows_per_block")),
            mean=np.asarray(arrays["mean"], np.float64),
            scale=np.asarray(arrays["scale"], np.float64),
            blocks=np.asarray(arrays["blocks"], np.float32),
            neighbours=int(scalar("neighbours")),
            quantile=float(scalar("quantile")),
            threshold=float(scalar("threshold")),
            n_train_songs=int(scalar("n_train_songs")),
            n_validation_songs=int(scalar("n_validation_songs")),
            corpus_fingerprint=str(scalar("corpus_fingerprint")),
            features_fingerprint=str(scalar("features_fingerprint")),
        )


def fit_domain_reference(
    train_blocks: Iterable[tuple[np.ndarray, np.ndarray]],
    validation_blocks: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    feature: str,
    rows_per_block: int,
    neighbours: int = DEFAULT_NEIGHBOURS,
    quantile: float = DEFAULT_QUANTILE,
    max_blocks: int = DEFAULT_MAX_REFERENCE_BLOCKS,
    seed: int = 0,
    corpus_fingerprint: str = "",
    features_fingerprint: str = "",
) -> DomainReference:
    """Fit the reference on the training blocks and calibrate its threshold on the
    validation songs, both streamed chunk by chunk (memory bounded by ``max_blocks``).

    ``train_blocks`` and ``validation_blocks``: chunks of ``(song_id [n], blocks [n, W])``, a
    song's blocks possibly spread over several chunks.
    The kept training blocks are a seeded uniform sample (smallest random keys), the
    standardisation is over every training block (Chan's pairwise merge).
    """
    if not (isinstance(neighbours, int) and neighbours >= 1):
        raise ParameterError(
            f"modelling.domain.neighbours must be an integer >= 1, got {neighbours!r}"
        )
    if not (isinstance(quantile, float) and 0 < quantile < 1):
        raise ParameterError(f"modelling.domain.quantile must be in (0, 1), got {quantile!r}")
    if not (isinstance(max_blocks, int) and max_blocks >= neighbours):
        raise ParameterError(
            f"modelling.domain.max_blocks must be an integer >= neighbours ({neighbours}), "
            f"got {max_blocks!r}"
        )
    rng = np.random.default_rng(seed)
    count, mean, sum_sq = 0, 0.0, 0.0
    kept_keys, kept = np.empty(0), np.empty((0, 0))
    train_songs: set[str] = set()
    for song_ids, values in train_blocks:
        train_songs.update(np.asarray(song_ids).astype(str).tolist())
        chunk = np.asarray(values, np.float64)
        if not len(chunk):
            continue
        chunk_mean = chunk.mean(axis=0)
        delta, total = chunk_mean - mean, count + len(chunk)
        mean = mean + delta * len(chunk) / total
        spread = ((chunk - chunk_mean) ** 2).sum(axis=0)
        sum_sq = sum_sq + spread + delta**2 * count * len(chunk) / total
        count = total
        keys = np.concatenate([kept_keys, rng.random(len(chunk))])
        pool = chunk if not kept.size else np.concatenate([kept, chunk])
        order = np.argsort(keys, kind="stable")[:max_blocks]
        kept_keys, kept = keys[order], pool[order]
    if count < neighbours:
        raise DataValidationError(
            f"the {feature} domain reference has {count} training blocks, fewer than "
            f"modelling.domain.neighbours={neighbours}"
        )
    scale = np.sqrt(np.asarray(sum_sq) / count)
    scale = np.where(scale > _MIN_SCALE, scale, 1.0)
    reference = DomainReference(
        feature=feature,
        rows_per_block=rows_per_block,
        mean=np.asarray(mean),
        scale=scale,
        blocks=((kept - mean) / scale).astype(np.float32),
        neighbours=neighbours,
        quantile=quantile,
        threshold=math.nan,
        n_train_songs=len(train_songs),
        n_validation_songs=0,
        corpus_fingerprint=corpus_fingerprint,
        features_fingerprint=features_fingerprint,
    )
    per_song: dict[str, list[np.ndarray]] = {}
    for song_ids, blocks in validation_blocks:
        distances = reference.block_distances(np.asarray(blocks))
        for song in np.unique(song_ids):
            per_song.setdefault(str(song), []).append(distances[song_ids == song])
    if not per_song:
        raise DataValidationError(f"the {feature} domain reference needs validation songs")
    song_distances = np.array([np.median(np.concatenate(d)) for d in per_song.values()])
    threshold = float(np.quantile(song_distances, quantile))
    if not threshold > 0:
        raise DataValidationError(
            f"the {feature} validation songs lie on the training blocks (threshold "
            f"{threshold!r}): are the validation songs copies of training songs?"
        )
    return replace(reference, threshold=threshold, n_validation_songs=len(per_song))
