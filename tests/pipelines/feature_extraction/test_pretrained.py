"""pretrained: the musicnn wheel is verified and unpacked atomically, once; a missing
checkpoint says how to get it. A small wheel-shaped zip stands in for the real one (no network)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from soundtrack_emotion.core.embeddings import pretrained
from soundtrack_emotion.core.embeddings.pretrained import (
    CHECKPOINTS,
    MANIFEST,
    fetch_musicnn,
    install_from_wheel,
    is_installed,
    missing_checkpoints,
    musicnn_checkpoint,
    vgg_checkpoint,
)
from soundtrack_emotion.exceptions import ModelUnavailableError, ParameterError


def fake_wheel(
    path: Path,
    models: tuple[str, ...] = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"),
    *,
    release: str = "",
) -> tuple[Path, str]:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("musicnn/MSD_musicnn_big/.index", "not unpacked")
        for model in models:
            archive.writestr(f"musicnn/{model}/.index", f"{model} index {release}".strip())
            archive.writestr(f"musicnn/{model}/.data-00000-of-00001", f"{model} data")
        archive.writestr("musicnn/extractor.py", "import tensorflow")
        archive.writestr("musicnn-0.1.0.dist-info/LICENSE.md", "ISC")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheel_is_verified_and_only_checkpoints_are_unpacked(tmp_path: Path) -> None:
    wheel, digest = fake_wheel(tmp_path / "musicnn.whl")
    cache = tmp_path / "cache" / "musicnn-0.1.0"
    assert install_from_wheel(wheel, cache, sha256=digest) == cache
    files = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())
    assert files == [
        "LICENSE.md", MANIFEST,
        "MSD_musicnn/.data-00000-of-00001", "MSD_musicnn/.index",
        "MSD_vgg/.data-00000-of-00001", "MSD_vgg/.index",
        "MTT_musicnn/.data-00000-of-00001", "MTT_musicnn/.index",
        "MTT_vgg/.data-00000-of-00001", "MTT_vgg/.index",
    ]  # fmt: skip
    assert json.loads((cache / MANIFEST).read_text())["wheel_sha256"] == digest
    assert oct(cache.stat().st_mode & 0o777) != oct(0o700)
    assert [p.name for p in cache.parent.iterdir()] == ["musicnn-0.1.0"]  # no temporaries
    assert musicnn_checkpoint(cache) == f"{cache / 'MSD_musicnn'}{os.sep}"
    assert musicnn_checkpoint(cache / "MTT_musicnn", model="MTT_musicnn").endswith("MTT_musicnn/")
    assert vgg_checkpoint(cache) == f"{cache / 'MSD_vgg'}{os.sep}"
    assert vgg_checkpoint(cache, model="MTT_vgg") == f"{cache / 'MTT_vgg'}{os.sep}"


def test_second_fetch_is_a_no_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel, digest = fake_wheel(tmp_path / "musicnn.whl")
    cache = tmp_path / "cache"
    install_from_wheel(wheel, cache, sha256=digest)
    stamp = (cache / MANIFEST).stat().st_mtime_ns

    def no_download(_: object) -> Path:
        raise AssertionError("downloaded although the cache is complete")

    monkeypatch.setattr(pretrained, "download_wheel", no_download)
    assert fetch_musicnn(cache) == (cache, False)
    assert (cache / MANIFEST).stat().st_mtime_ns == stamp
    assert pretrained.main(["--cache-dir", str(cache)]) == 0


def test_a_wheel_without_every_checkpoint_is_refused(tmp_path: Path) -> None:
    wheel, digest = fake_wheel(tmp_path / "musicnn.whl", ("MSD_musicnn", "MTT_musicnn"))
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailableError, match=r"no checkpoint for \['MSD_vgg', 'MTT_vgg'"):
        install_from_wheel(wheel, cache, sha256=digest)
    assert not cache.exists() and not list(tmp_path.glob(".cache.tmp-*"))


def older_cache(cache: Path, models: tuple[str, ...]) -> None:
    """Make ``cache`` look as a set-up that unpacked only ``models`` left it."""
    manifest = json.loads((cache / MANIFEST).read_text())
    for model in CHECKPOINTS:
        if model not in models:
            shutil.rmtree(cache / model)
            manifest["files"] = {
                k: v for k, v in manifest["files"].items() if not k.startswith(f"{model}/")
            }
    (cache / MANIFEST).write_text(json.dumps(manifest))


def test_a_cache_without_the_vgg_checkpoints_is_completed_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel, digest = fake_wheel(tmp_path / "musicnn.whl")
    cache = tmp_path / "cache" / "musicnn-0.1.0"
    install_from_wheel(wheel, cache, sha256=digest)
    older_cache(cache, ("MSD_musicnn", "MTT_musicnn"))
    assert not is_installed(cache) and missing_checkpoints(cache) == ["MSD_vgg", "MTT_vgg"]
    with pytest.raises(ModelUnavailableError, match="No MSD_vgg checkpoint"):
        vgg_checkpoint(cache)
    kept = (cache / "MSD_musicnn" / ".index").stat().st_ino
    # The set-up command downloads the wheel again and completes the cache.
    monkeypatch.setattr(pretrained, "download_wheel", lambda folder: shutil.copy(wheel, folder))
    monkeypatch.setattr(
        pretrained, "install_from_wheel", functools.partial(install_from_wheel, sha256=digest)
    )
    assert fetch_musicnn(cache) == (cache, True)
    assert is_installed(cache) and fetch_musicnn(cache) == (cache, False)
    assert (cache / "MSD_musicnn" / ".index").stat().st_ino == kept  # never moved
    assert (cache / "MTT_vgg" / ".index").read_text() == "MTT_vgg index"
    listed = json.loads((cache / MANIFEST).read_text())["files"]
    assert {"MSD_vgg/.index", "MTT_vgg/.data-00000-of-00001"} <= set(listed)
    assert [p.name for p in cache.parent.iterdir()] == ["musicnn-0.1.0"]  # no temporaries


def test_an_incomplete_cache_from_another_wheel_is_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, first_digest = fake_wheel(tmp_path / "first.whl")
    install_from_wheel(first, cache, sha256=first_digest)
    older_cache(cache, ("MSD_musicnn",))
    second, second_digest = fake_wheel(tmp_path / "second.whl", release="rebuilt")
    install_from_wheel(second, cache, sha256=second_digest)
    assert is_installed(cache)
    assert (cache / "MSD_musicnn" / ".index").read_text() == "MSD_musicnn index rebuilt"
    assert json.loads((cache / MANIFEST).read_text())["wheel_sha256"] == second_digest


def test_wrong_wheel_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    wheel, _ = fake_wheel(tmp_path / "musicnn.whl")
    cache = tmp_path / "cache" / "musicnn-0.1.0"
    with pytest.raises(ModelUnavailableError, match=r"not the musicnn 0\.1\.0 wheel"):
        install_from_wheel(wheel, cache)  # the pinned PyPI hash
    assert not cache.exists()
    assert not cache.parent.exists() or not list(cache.parent.iterdir())


def test_cli_reports_a_failed_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(_: object) -> Path:
        raise ModelUnavailableError("pip could not download musicnn==0.1.0")

    monkeypatch.setattr(pretrained, "download_wheel", failing)
    assert pretrained.main(["--cache-dir", str(tmp_path / "cache")]) == 1
    assert "pip could not download" in capsys.readouterr().err


def test_missing_checkpoint_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOUNDTRACK_EMOTION_CACHE", str(tmp_path / "nowhere"))
    with pytest.raises(ModelUnavailableError) as error:
        musicnn_checkpoint(None)
    message = str(error.value)
    assert "python -m soundtrack_emotion.core.embeddings.pretrained" in message
    assert "feature_extraction.musicnn.checkpoint" in message
    assert str(tmp_path / "nowhere" / "musicnn-0.1.0") in message
    with pytest.raises(ModelUnavailableError, match=r"checkpoint = .*elsewhere"):
        musicnn_checkpoint(tmp_path / "elsewhere")
    with pytest.raises(ParameterError, match="MSD_vgg"):
        musicnn_checkpoint(None, model="MSD_vgg")


def test_a_checkpoint_prefix_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "model.ckpt.index").write_bytes(b"")
    assert musicnn_checkpoint(tmp_path / "model.ckpt") == str(tmp_path / "model.ckpt")


def test_missing_weights_of_the_default_cache_are_fetched_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel, digest = fake_wheel(tmp_path / "musicnn.whl")
    monkeypatch.setenv("SOUNDTRACK_EMOTION_CACHE", str(tmp_path / "cache"))
    downloads = []

    def download(folder):
        downloads.append(folder)
        return shutil.copy(wheel, folder)

    monkeypatch.setattr(pretrained, "download_wheel", download)
    monkeypatch.setattr(
        pretrained, "install_from_wheel", functools.partial(install_from_wheel, sha256=digest)
    )
    monkeypatch.setenv("SOUNDTRACK_EMOTION_FETCH", "1")
    prefix = musicnn_checkpoint(None)
    assert Path(prefix, ".index").read_text() == "MSD_musicnn index"
    assert vgg_checkpoint(None) and len(downloads) == 1  # one download, then the cache
    # A local checkpoint setting is never downloaded over.
    with pytest.raises(ModelUnavailableError, match="checkpoint = "):
        musicnn_checkpoint(tmp_path / "elsewhere")


def test_a_failed_first_use_download_says_why_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOUNDTRACK_EMOTION_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SOUNDTRACK_EMOTION_FETCH", "1")

    def offline(folder):
        raise ModelUnavailableError("pip could not download musicnn==0.1.0 (exit 1): offline")

    monkeypatch.setattr(pretrained, "download_wheel", offline)
    with pytest.raises(ModelUnavailableError, match="fetching it failed: pip could not download"):
        musicnn_checkpoint(None)
