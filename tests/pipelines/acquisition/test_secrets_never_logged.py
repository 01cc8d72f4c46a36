"""No credential reaches the console, a log file, ``data/`` or an MLflow store, at any log level.

``kedro run --pipelines=acquisition`` runs in a subprocess in a temporary copy of the project,
against the loopback fakes, with distinctive credentials and a copy of ``conf/logging.yml``
(passed with ``KEDRO_LOGGING_CONFIG``, as a user debugging a crawl does) that sets every logger
to DEBUG: Kedro's hook tracing then logs ``after_catalog_created(conf_creds=...)``. One logger
does not propagate and writes to its own file, so masking cannot depend on the root handlers.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from .conftest import (
    CATALOGUE,
    LASTFM_KEY,
    LASTFM_SECRET,
    SPOTIFY_ID,
    SPOTIFY_SECRET,
    FakeLastfm,
    FakeSpotify,
    crawl_parameters,
    write_tone,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
BASIC_AUTH = base64.b64encode(f"{SPOTIFY_ID}:{SPOTIFY_SECRET}".encode()).decode()
LEAKABLE = (LASTFM_KEY, LASTFM_SECRET, SPOTIFY_ID, SPOTIFY_SECRET, BASIC_AUTH)
CREDENTIAL_ENV_VARS = (
    "LASTFM_API_KEY",
    "LASTFM_API_SECRET",
    "SPOTIFY_CLIENT_ID",
    "SPOTIFY_CLIENT_SECRET",
    "SPOTIPY_CLIENT_ID",
    "SPOTIPY_CLIENT_SECRET",
)
DEBUG_LOGGERS = (
    "kedro",
    "pluggy",
    "soundtrack_emotion",
    "pylast",
    "spotipy",
    "requests",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
)
# Does not propagate: its records reach only logs/urllib3.log, never a root handler.
ISOLATED_LOGGER = "urllib3"
RUN_TIMEOUT_S = 120


def debug_logging_config() -> dict:
    """The project's conf/logging.yml with every logger and handler at DEBUG, log files under
    logs/, a plain console handler on stderr next to the rich one on stdout."""
    config = yaml.safe_load((PROJECT_ROOT / "conf" / "logging.yml").read_text())
    handlers = config["handlers"]
    handlers["info_file_handler"]["filename"] = "logs/info.log"
    handlers["rich"]["level"] = "DEBUG"
    handlers["console"].update(level="DEBUG", stream="ext://sys.stderr")
    handlers["debug_file"] = {
        "class": "logging.FileHandler",
        "level": "DEBUG",
        "formatter": "simple",
        "filename": "logs/debug.log",
    }
    handlers["isolated_file"] = {**handlers["debug_file"], "filename": "logs/urllib3.log"}
    config["loggers"] = {name: {"level": "DEBUG"} for name in DEBUG_LOGGERS}
    config["loggers"][ISOLATED_LOGGER] = {
        "level": "DEBUG",
        "handlers": ["isolated_file"],
        "propagate": False,
    }
    root_handlers = ["rich", "console", "info_file_handler", "debug_file"]
    config["root"] = {"level": "DEBUG", "handlers": root_handlers}
    return config


@dataclass
class KedroRun:
    project: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def console(self) -> str:
        return self.stdout + self.stderr

    def written(self, *, exclude: tuple[Path, ...] = ()) -> dict[str, bytes]:
        """Every file the run left in the project (logs/, data/, mlruns/, info.log, ...)."""
        return {
            p.relative_to(self.project).as_posix(): p.read_bytes()
            for p in sorted(self.project.rglob("*"))
            if p.is_file() and p not in exclude
        }


def make_project(
    root: Path, lastfm: FakeLastfm, spotify: FakeSpotify, *, max_tries: int = 4
) -> Path:
    """A Kedro project folder: the project's pyproject.toml and conf/base, conf/local pointing
    the API clients at the fakes, an audio library, and the DEBUG logging configuration."""
    project = root / "project"
    (project / "conf" / "local").mkdir(parents=True)
    (project / "src").mkdir()  # Kedro insists on it; the package comes from PYTHONPATH
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf" / "base", project / "conf" / "base")
    base_catalog = yaml.safe_load(
        (PROJECT_ROOT / "conf" / "base" / "catalog_acquisition.yml").read_text()
    )
    local_catalog = {
        "lastfm_client": {**base_catalog["lastfm_client"], "api_root": lastfm.api_root},
        "spotify_client": {
            **base_catalog["spotify_client"],
            "api_root": spotify.api_root,
            "token_url": spotify.token_url,
        },
    }
    (project / "conf" / "local" / "catalog.yml").write_text(yaml.safe_dump(local_catalog))
    library = project / "data" / "01_raw" / "audio_library"
    write_tone(library / f"{CATALOGUE[0].id}.wav", seconds=0.5)
    write_tone(library / "Mandy Moore - Only Hope.wav", seconds=0.5)
    parameters = crawl_parameters(library, retry={"max_tries": max_tries})
    (project / "conf" / "local" / "parameters_acquisition.yml").write_text(
        yaml.safe_dump({"acquisition": parameters})
    )
    (project / "logs").mkdir()
    (project / "debug_logging.yml").write_text(yaml.safe_dump(debug_logging_config()))
    return project


def kedro_run(project: Path, credentials: dict[str, str]) -> KedroRun:
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_ENV_VARS}
    env.update(
        credentials,
        PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT / "src"), env.get("PYTHONPATH", "")]),
        KEDRO_LOGGING_CONFIG=str(project / "debug_logging.yml"),
        KEDRO_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="1",
        COLUMNS="250",  # rich wraps at the terminal width; a wrapped value would hide from `in`
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    done = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines=acquisition"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    return KedroRun(project, done.returncode, done.stdout, done.stderr)


def assert_no_secret_anywhere(run: KedroRun, *, exclude: tuple[Path, ...] = ()) -> None:
    written = run.written(exclude=exclude)
    assert any(name.startswith("data/01_raw/lastfm/") for name in written), sorted(written)
    if (run.project / "mlruns").exists():  # the MLflow store, once runs are tracked
        assert any(name.startswith("mlruns/") for name in written)
    for secret in LEAKABLE:
        assert secret not in run.console, f"{secret!r} on the console"
        for name, content in written.items():
            assert secret.encode() not in content, f"{secret!r} in {name}"


def assert_debug_tracing_was_masked(run: KedroRun) -> None:
    """The records that used to leak were emitted, with the values masked."""
    debug_log = (run.project / "logs" / "debug.log").read_text()
    for text in (run.stdout, run.stderr, debug_log):
        assert "after_catalog_created" in text and "conf_creds" in text
    creds_line = next(line for line in debug_log.splitlines() if "conf_creds" in line)
    assert "'api_secret': '***'" in creds_line, creds_line
    assert "connectionpool" in (run.project / "logs" / "urllib3.log").read_text()
    assert "httpcore2" in debug_log and "spotipy" in debug_log


def env_credentials() -> dict[str, str]:
    return {
        "LASTFM_API_KEY": LASTFM_KEY,
        "LASTFM_API_SECRET": LASTFM_SECRET,
        "SPOTIFY_CLIENT_ID": SPOTIFY_ID,
        "SPOTIFY_CLIENT_SECRET": SPOTIFY_SECRET,
    }


def test_a_debug_run_with_credentials_in_env_vars_shows_no_secret(
    tmp_path, fake_lastfm, fake_spotify
):
    project = make_project(tmp_path, fake_lastfm, fake_spotify)
    run = kedro_run(project, env_credentials())

    assert run.returncode == 0, run.stderr[-3000:]
    assert (project / "data" / "08_reporting" / "acquisition_report.csv").exists()
    assert fake_spotify.tokens, "the run fetched a Spotify token"
    assert_debug_tracing_was_masked(run)
    assert_no_secret_anywhere(run)


def test_a_failing_token_endpoint_shows_no_secret(tmp_path, fake_lastfm):
    """Spotify credentials from conf/local/credentials.yml; the token endpoint answers HTTP 500
    (items fail, retried) and then rejects the credentials (the run stops with a traceback)."""
    rejecting = FakeSpotify(
        client_id=SPOTIFY_ID, client_secret="not-the-configured-secret", catalogue=CATALOGUE
    ).start()
    try:
        rejecting.fail("/api/token", "http_500", "http_500", "http_500")
        project = make_project(tmp_path, fake_lastfm, rejecting, max_tries=2)
        credentials_file = project / "conf" / "local" / "credentials.yml"
        credentials_file.write_text(
            yaml.safe_dump({"spotify": {"client_id": SPOTIFY_ID, "client_secret": SPOTIFY_SECRET}})
        )
        env = env_credentials()
        del env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"]
        run = kedro_run(project, env)
    finally:
        rejecting.stop()

    assert run.returncode != 0
    assert "Spotify rejected the client credentials" in run.stderr
    assert "token_http_500" in run.console
    assert rejecting.count("/api/token") == 4
    assert_debug_tracing_was_masked(run)
    assert_no_secret_anywhere(run, exclude=(credentials_file,))


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch):
    for name in CREDENTIAL_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
