"""Registered credential values are masked by value in every log record, whatever the logger,
its handlers or when they were configured, and in the project's exception messages."""

from __future__ import annotations

import io
import logging
import logging.config
import sys
from types import SimpleNamespace

import pytest
from kedro.config import OmegaConfigLoader
from rich.console import Console
from rich.logging import RichHandler

from soundtrack_emotion import secret_masking
from soundtrack_emotion.exceptions import FetchError, PrerequisiteError
from soundtrack_emotion.runtime.hooks import SecretMaskingHook
from soundtrack_emotion.secret_masking import MASK, mask_project_credentials, redact, register

SECRET = "unit-s3cr3t-9f2e4d"


@pytest.fixture
def isolated_logger():
    """A logger configured *after* the value was registered, by dictConfig as Kedro does, that
    does not propagate: only its own handler sees its records."""
    register(SECRET)
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"mine": {"class": "logging.StreamHandler", "stream": stream}},
            "loggers": {
                "some.library": {"level": "DEBUG", "handlers": ["mine"], "propagate": False}
            },
        }
    )
    logger = logging.getLogger("some.library")
    yield logger, stream
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def test_message_args_reprs_and_stack_are_masked(isolated_logger):
    logger, stream = isolated_logger
    logger.debug("plain %s", SECRET)
    logger.debug("as a dict: %s", {"creds": {"api_secret": SECRET}})
    logger.debug("%(api_secret)s in a mapping", {"api_secret": SECRET})
    logger.debug(f"already formatted {SECRET}", stack_info=True)
    logger.debug("header Authorization: Bearer abc.DEF-123")
    text = stream.getvalue()
    assert SECRET not in text
    assert text.count(MASK) == 5
    assert "'api_secret': '***'" in text
    assert "Bearer ***" in text


def test_url_encoded_forms_are_registered_too(isolated_logger):
    logger, stream = isolated_logger
    register("a/b+c d")
    logger.debug("body: secret=a%2Fb%2Bc+d and secret=a%2Fb%2Bc%20d")
    assert stream.getvalue().strip() == "body: secret=*** and secret=***"


def test_a_traceback_showing_a_value_is_masked(isolated_logger):
    logger, stream = isolated_logger
    try:
        raise RuntimeError(f"token request with {SECRET} failed")
    except RuntimeError:
        logger.exception("while fetching")
    text = stream.getvalue()
    assert "while fetching" in text and "RuntimeError: token request with *** failed" in text
    assert SECRET not in text


def test_rich_tracebacks_with_locals_show_no_value():
    """Rich renders the exception itself (and, if configured, each frame's locals): a value in
    a local variable never reaches the plain traceback, only rich's."""
    register(SECRET)
    out = io.StringIO()
    handler = RichHandler(
        console=Console(file=out, width=200), rich_tracebacks=True, tracebacks_show_locals=True
    )
    logger = logging.getLogger("some.rich.user")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        client_secret = SECRET
        raise ValueError("bad answer")
    except ValueError:
        logger.exception("request failed for %s", "spotify")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    text = out.getvalue()
    assert client_secret and "request failed for spotify" in text and "bad answer" in text
    assert SECRET not in text


def test_an_unformattable_record_is_emitted_without_its_arguments(isolated_logger):
    logger, stream = isolated_logger
    logger.debug("%s and %s", SECRET)  # noqa: PLE1206 (one argument short, on purpose)
    text = stream.getvalue()
    assert SECRET not in text and "unformattable arguments" in text


def test_a_record_factory_set_later_is_wrapped_again(isolated_logger):
    logger, stream = isolated_logger
    previous = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)  # a library replacing the factory
    try:
        register(SECRET)  # every client construction re-installs the masking
        logger.debug("after: %s", SECRET)
    finally:
        logging.setLogRecordFactory(previous)
    assert stream.getvalue().strip() == "after: ***"


def test_uncaught_exceptions_showing_a_value_are_printed_masked(capsys):
    register(SECRET)
    passed_on = []
    hook = secret_masking._MaskingExceptHook(lambda *exc_info: passed_on.append(exc_info))
    for message in (f"with {SECRET}", "without"):
        try:
            raise KeyError(message)
        except KeyError as error:
            hook(type(error), error, error.__traceback__)
    err = capsys.readouterr().err
    assert "KeyError: 'with ***'" in err and SECRET not in err
    assert [str(exc_info[1]) for exc_info in passed_on] == ["'without'"]
    assert isinstance(sys.excepthook, secret_masking._MaskingExceptHook)


def test_project_exceptions_never_carry_a_value():
    register(SECRET)
    assert SECRET not in str(PrerequisiteError(f"Spotify rejected {SECRET}"))
    error = FetchError("token_http_500", f"answer echoed {SECRET}")
    assert SECRET not in str(error) and error.detail == "answer echoed ***"


def test_start_up_registers_credential_files_of_every_env_and_env_vars(tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    (conf / "local").mkdir(parents=True)
    (conf / "prod").mkdir()
    (conf / "local" / "credentials.yml").write_text(
        "lastfm:\n  api_key: file-key-1a2b3c\n  api_secret: ${oc.env:SOMETHING}\n"
        "nested:\n  deeper:\n    - list-token-4d5e6f\n  port: 5432\n  flag: true\n"
    )
    (conf / "prod" / "credentials_spotify.yml").write_text(
        "spotify:\n  client_id: prod-id-7a8b9c\n"
    )
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "env-secret-0f1e2d")

    mask_project_credentials(conf)

    text = "file-key-1a2b3c list-token-4d5e6f prod-id-7a8b9c env-secret-0f1e2d 5432 true"
    assert redact(text) == "*** *** *** *** 5432 true"
    assert redact("${oc.env:SOMETHING}") == "${oc.env:SOMETHING}"


def test_the_hook_registers_what_kedro_resolves(tmp_path, monkeypatch):
    """Values interpolated from any environment variable, in any run environment."""
    (tmp_path / "base").mkdir()
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "credentials.yml").write_text(
        "db:\n  password: ${oc.env:STAGING_DB_PASSWORD}\n"
    )
    monkeypatch.setenv("STAGING_DB_PASSWORD", "resolved-pw-3c4d5e")
    loader = OmegaConfigLoader(str(tmp_path), base_env="base", default_run_env="staging")

    SecretMaskingHook().after_context_created(SimpleNamespace(config_loader=loader))

    assert redact("password resolved-pw-3c4d5e") == "password ***"


def test_a_credentials_file_others_can_read_is_warned_about(tmp_path, caplog):
    from soundtrack_emotion.secret_masking import warn_if_readable_by_others

    path = tmp_path / "credentials.yml"
    path.write_text("lastfm: {api_key: k}\n")
    path.chmod(0o600)
    assert not warn_if_readable_by_others(path)
    path.chmod(0o644)
    with caplog.at_level("WARNING"):
        assert warn_if_readable_by_others(path)
    assert "chmod 600" in caplog.text and "-rw-r--r--" in caplog.text


def test_only_credentials_files_holding_secrets_are_checked(tmp_path, caplog):
    from soundtrack_emotion.secret_masking import mask_project_credentials

    (tmp_path / "base").mkdir()
    (tmp_path / "local").mkdir()
    template = tmp_path / "base" / "credentials.yml"
    template.write_text("lastfm: {api_key: '${oc.env:LASTFM_API_KEY,null}'}\n")
    secrets = tmp_path / "local" / "credentials.yml"
    secrets.write_text("lastfm: {api_key: k3y-only-for-this-test}\n")
    for path in (template, secrets):
        path.chmod(0o644)
    with caplog.at_level("WARNING"):
        mask_project_credentials(tmp_path)
    assert str(secrets) in caplog.text and str(template) not in caplog.text
