"""The out-of-domain reference: blocks, fitting, calibration, storage."""

from __future__ import annotations

import numpy as np
import pytest
from kedro.io import DatasetError

from soundtrack_emotion.core.out_of_domain import block_rows, feature_blocks, fit_domain_reference
from soundtrack_emotion.datasets import DomainReferenceDataset, DomainReferencesDataset
from soundtrack_emotion.exceptions import DataValidationError, ParameterError

WIDTH = 8
CENTRES = np.array([[-6.0] * WIDTH, [0.0] * WIDTH, [6.0] * WIDTH])


def _songs(rng, n_songs, centres, *, rows=20):
    """Songs as feature matrices [rows, F], each a cluster centre plus its own offset."""
    songs = []
    for i in range(n_songs):
        centre = centres[i % len(centres)] + rng.normal(0, 0.3, WIDTH)
        songs.append(centre + rng.normal(0, 1.0, (rows, WIDTH)))
    return songs


def _chunks(songs, prefix, *, rows_per_block=1):
    """``(song_id, blocks)`` chunks as the modelling node streams them (two songs a chunk)."""
    for start in range(0, len(songs), 2):
        part = songs[start : start + 2]
        blocks = [feature_blocks(s, rows_per_block=rows_per_block) for s in part]
        names = [f"{prefix}{start + i}" for i in range(len(part))]
        ids = np.repeat(names, [len(b) for b in blocks])
        yield ids, np.concatenate(blocks)


def _fit(train, validation, **kwargs):
    return fit_domain_reference(
        _chunks(train, "t"), _chunks(validation, "v"), feature="mfcc", rows_per_block=1, **kwargs
    )


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    return _songs(rng, 90, CENTRES), _songs(rng, 60, CENTRES), rng


def test_blocks_are_mean_and_spread_of_runs_of_rows_the_remainder_joining_the_last():
    matrix = np.arange(14, dtype=float).reshape(7, 2)  # rows 0..6, columns (2r, 2r + 1)
    blocks = feature_blocks(matrix, rows_per_block=3)
    assert blocks.shape == (2, 4)
    np.testing.assert_allclose(blocks[0], [2.0, 3.0, np.std([0, 2, 4]), np.std([1, 3, 5])])
    np.testing.assert_allclose(blocks[1, :2], matrix[3:].mean(axis=0))  # rows 3..6
    np.testing.assert_array_equal(feature_blocks(matrix, rows_per_block=1), matrix)
    assert feature_blocks(matrix[:2], rows_per_block=3).shape == (1, 4)  # shorter: one block
    assert block_rows(0.0464) == 65 and block_rows(2.992) == 1 and block_rows(0.96) == 3
    with pytest.raises(DataValidationError, match=r"\(0, 2\)"):
        feature_blocks(matrix[:0], rows_per_block=3)


def test_unseen_songs_of_the_corpus_are_flagged_at_about_the_calibrated_rate(corpus):
    train, validation, rng = corpus
    reference = _fit(train, validation)
    assert reference.n_train_songs == 90 and reference.n_validation_songs == 60
    unseen = _songs(rng, 300, CENTRES)
    flagged = np.mean([reference.score(s) > 1 for s in unseen])
    assert 0.0 < flagged < 0.15  # nominal 1 - quantile = 5 %, from 60 calibration songs


def test_songs_far_from_every_cluster_or_between_them_are_flagged(corpus):
    """Between two clusters lies no training song: a single Gaussian (Mahalanobis) would call
    it typical, the k-NN distance does not."""
    train, validation, rng = corpus
    reference = _fit(train, validation)
    far = _songs(rng, 10, np.array([[20.0] * WIDTH]))
    between = _songs(rng, 10, np.array([[3.0] * WIDTH]))
    assert all(reference.score(s) > 1 for s in far)
    assert all(reference.score(s) > 1 for s in between)


def test_the_kept_training_blocks_are_a_bounded_seeded_sample(corpus):
    train, validation, _ = corpus
    small = _fit(train, validation, max_blocks=500, seed=3)
    again = _fit(train, validation, max_blocks=500, seed=3)
    other = _fit(train, validation, max_blocks=500, seed=4)
    assert small.blocks.shape == (500, WIDTH)
    assert small.fingerprint == again.fingerprint != other.fingerprint
    full = _fit(train, validation)
    np.testing.assert_allclose(small.mean, full.mean)  # standardised over every block


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantile": 1.5}, "quantile must be in \\(0, 1\\), got 1.5"),
        ({"neighbours": 0}, "neighbours must be an integer >= 1, got 0"),
        ({"max_blocks": 2}, "max_blocks must be an integer >= neighbours \\(5\\), got 2"),
    ],
)
def test_bad_parameters_are_refused_naming_the_value(corpus, kwargs, message):
    train, validation, _ = corpus
    with pytest.raises(ParameterError, match=message):
        _fit(train, validation, **kwargs)


def test_a_track_of_other_features_is_refused_not_scored(corpus):
    train, validation, _ = corpus
    reference = _fit(train, validation)
    with pytest.raises(DataValidationError, match="width 8, the track's are 3"):
        reference.score(np.zeros((10, 3)))


def test_the_reference_round_trips_through_its_dataset_without_pickles(corpus, tmp_path):
    train, validation, _ = corpus
    reference = _fit(train, validation, corpus_fingerprint="abc", features_fingerprint="def")
    dataset = DomainReferenceDataset(filepath=str(tmp_path / "domain/mfcc.npz"))
    dataset.save(reference)
    loaded = dataset.load()
    assert loaded.fingerprint == reference.fingerprint
    assert (loaded.corpus_fingerprint, loaded.features_fingerprint) == ("abc", "def")
    assert loaded.threshold == reference.threshold
    song = train[0]
    assert loaded.score(song) == pytest.approx(reference.score(song))
    assert not list((tmp_path / "domain").glob(".*"))  # no temporary file left
    folder = DomainReferencesDataset(path=str(tmp_path / "domain")).load()
    assert set(folder) == {"mfcc"} and folder["mfcc"]().fingerprint == reference.fingerprint


def test_a_missing_or_corrupt_reference_file(tmp_path):
    assert DomainReferenceDataset(filepath=str(tmp_path / "x.npz"), missing_ok=True).load() is None
    assert DomainReferencesDataset(path=str(tmp_path / "none")).load() == {}
    with pytest.raises(DatasetError, match="not a domain reference"):
        DomainReferenceDataset(filepath=str(tmp_path / "x.npz")).load()
    (tmp_path / "bad.npz").write_bytes(b"not numpy")
    with pytest.raises(DatasetError, match=r"bad\.npz: not a domain reference"):
        DomainReferenceDataset(filepath=str(tmp_path / "bad.npz")).load()
