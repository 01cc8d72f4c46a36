"""ProjectContextHook: the project root for relative paths, parameter keys refused before any
node runs (with a did-you-mean), and project errors ending a run as one readable paragraph."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from kedro.config import OmegaConfigLoader

from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.runtime import paths
from soundtrack_emotion.runtime.hooks import ProjectContextHook

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _context(runtime_params: dict) -> SimpleNamespace:
    loader = OmegaConfigLoader(
        str(PROJECT_ROOT / "conf"),
        base_env="base",
        default_run_env="base",
        runtime_params=runtime_params,
    )
    return SimpleNamespace(project_path=PROJECT_ROOT, config_loader=loader)


@pytest.fixture(autouse=True)
def _forget_root(monkeypatch):
    monkeypatch.setattr(paths, "_project_root", None)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)


def test_the_declared_parameters_pass_and_set_the_project_root() -> None:
    ProjectContextHook().after_context_created(
        _context({"feature_extraction": {"mfcc": {"n_mfcc": 20}}})
    )
    assert paths.project_root() == PROJECT_ROOT


@pytest.mark.parametrize(
    ("runtime", "expected"),
    [
        ({"feature_extraction": {"mfcc": {"n_mfccs": 20}}},
         "feature_extraction.mfcc.n_mfccs (did you mean feature_extraction.mfcc.n_mfcc?)"),
        ({"feature_extraction.mfcc.n_mfccs": 20},  # as a dotted key
         "feature_extraction.mfcc.n_mfccs (did you mean feature_extraction.mfcc.n_mfcc?)"),
        ({"inferance": {"model": "best"}}, "inferance (did you mean inference?)"),
        ({"modelling": {"zzz": 1}}, "modelling.zzz. Every"),
    ],
)  # fmt: skip
def test_a_typod_parameter_is_refused_with_the_suggestion(runtime, expected) -> None:
    with pytest.raises(ParameterError, match="unknown parameter") as refused:
        ProjectContextHook().after_context_created(_context(runtime))
    assert expected in str(refused.value)


SCRIPT = """
import logging, sys
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.runtime.errors import present_errors
logging.basicConfig(filename={log!r}, level=logging.INFO)
present_errors()
print("progress line")

def deep(n):
    if n == 0:
        raise ParameterError("inference.hop_seconds must be > 0, got -1")
    deep(n - 1)

deep(30)
"""


def test_a_project_error_ends_the_run_as_one_paragraph(tmp_path) -> None:
    log = tmp_path / "info.log"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(log=str(log)))
    done = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "Error: ParameterError: inference.hop_seconds must be > 0, got -1",
        f"Full traceback in {log}.",
    ]
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "raise ParameterError" in text


def test_a_bug_keeps_its_traceback(tmp_path) -> None:
    script = tmp_path / "bug.py"
    script.write_text(
        "from soundtrack_emotion.runtime.errors import present_errors\n"
        "present_errors()\n"
        "{}['missing']\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True
    )
    assert "Traceback" in done.stderr and "KeyError" in done.stderr


def test_report_error_names_the_track_from_the_notes(caplog) -> None:
    from soundtrack_emotion.exceptions import AudioDecodeError
    from soundtrack_emotion.runtime.errors import report_error

    error = AudioDecodeError("x.wav: silent", reason="silent")
    error.add_note("raised while processing track t1")
    with caplog.at_level(logging.ERROR):
        assert "AudioDecodeError: x.wav: silent (raised while processing track t1)" in (
            report_error(error)
        )


def test_an_environment_and_runtime_params_merge_key_by_key_over_base() -> None:
    """`kedro run --env dask --params inference.catalogue=...`: the dask environment sets only
    the backend, the runtime parameter only the catalogue; every other parameter stays."""
    from soundtrack_emotion.settings import CONFIG_LOADER_ARGS

    args = {k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "custom_resolvers"}
    loader = OmegaConfigLoader(
        str(PROJECT_ROOT / "conf"),
        **args,
        env="dask",
        runtime_params={"inference": {"catalogue": "movies/"}},
    )
    base = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), base_env="base",
                             default_run_env="base")["parameters"]  # fmt: skip
    params = loader["parameters"]
    assert params["compute"]["backend"] == "dask"
    assert params["inference"] == {**base["inference"], "catalogue": "movies/"}
    assert set(params) == set(base)


def test_base_holds_the_thesis_networks_and_the_demo_environment_only_shrinks_them() -> None:
    """`kedro run` trains the thesis's exact CNN and LSTM (section 4.2); `make demo`'s
    `--env demo` changes only corpus size, widths and training budgets (and the intervals'
    level), all declared in base."""
    from soundtrack_emotion.runtime.parameter_check import unknown_keys
    from soundtrack_emotion.settings import CONFIG_LOADER_ARGS

    args = {k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "custom_resolvers"}
    base = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), **args, env="base")["parameters"]
    demo = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), **args, env="demo")["parameters"]
    thesis = base["modelling"]["networks"]
    assert thesis["cnn"]["architecture"]["conv_filters"] == [32, 64]
    assert thesis["cnn"]["architecture"]["dense_units"] == [128, 128, 64]
    assert thesis["lstm"]["architecture"]["units"] == 512
    assert thesis["lstm"]["architecture"]["dense_units"] == [128, 128, 64]

    assert unknown_keys(demo, base) == []
    small = demo["modelling"]["networks"]
    assert small["lstm"]["architecture"]["units"] < 512
    assert small["cnn"]["training"]["epochs"] < thesis["cnn"]["training"]["epochs"]
    assert small["ridge"] == thesis["ridge"]  # what the demo does not set stays base's
    assert demo["demo"]["n_tracks"] < base["demo"]["n_tracks"]
    # and the prediction intervals' level: its 6 validation songs cannot calibrate 90 %
    assert demo["inference"].pop("interval_level") < base["inference"].pop("interval_level")
    assert {k: v for k, v in demo.items() if k not in ("demo", "modelling")} == {
        k: v for k, v in base.items() if k not in ("demo", "modelling")
    }
