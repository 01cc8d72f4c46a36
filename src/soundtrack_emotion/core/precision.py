"""The numeric precision networks run in at inference: ``auto``, ``float32`` or ``bfloat16``.

One setting per pipeline: ``feature_extraction.precision`` for the pretrained embedding
networks (VGGish, MusiCNN, wherever they run, inference's feature computation included) and
``inference.precision`` for the trained models when they score tracks. Training always runs in
float32, so seeded runs stay bit-identical; nothing here touches a global Keras dtype policy.

``auto`` picks bfloat16 only where the hardware runs it natively, and float32 elsewhere:

* without a GPU, a CPU whose flags include ``amx_bf16`` or ``avx512_bf16`` (current Xeon server
  CPUs, AMD Zen 4 and newer) with TensorFlow's oneDNN backend on (TensorFlow turns it on by
  default on such CPUs; ``TF_ENABLE_ONEDNN_OPTS=0`` turns it off);
* with a GPU, Keras networks (MusiCNN, the trained models) when every visible GPU has compute
  capability 8.0 or more (Ampere and newer). VGGish, a TF Hub SavedModel, is converted by
  oneDNN's graph rewrite, which converts CPU operations only: it stays float32 on a GPU.

``bfloat16`` asked for explicitly also runs where it is not native (slower: emulated), except
VGGish's rewrite, which needs the oneDNN CPU backend and no GPU; it says so instead of
silently running float32. How a network is converted (its ``engine``):

* ``"keras"`` (:func:`keras_in_precision`): a clone of the model whose layers compute in
  bfloat16 with float32 weights (Keras's ``mixed_bfloat16``), except the ``Normalization``
  layers (raw features such as MFCC c0 near -300 lose whole units in bfloat16) and the layers
  that produce the model's outputs;
* ``"graph"`` (:func:`onednn_bfloat16_rewrite`): TensorFlow's oneDNN automatic mixed precision
  (``auto_mixed_precision_onednn_bfloat16``), switched on around each call and restored after
  it, so it never reaches training in the same process.

Outputs are float32 arrays whatever the compute precision (callers cast). The resolved
precision is part of the fingerprints of stored features and scored tracks (only when it is
bfloat16, so float32 results stored before this setting existed stay valid).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundtrack_emotion.exceptions import ParameterError

logger = logging.getLogger(__name__)

AUTO, FLOAT32, BFLOAT16 = "auto", "float32", "bfloat16"
PRECISIONS = (AUTO, FLOAT32, BFLOAT16)
ENGINES = ("keras", "graph")
# CPU flags (Linux /proc/cpuinfo names) of native bfloat16 arithmetic.
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")
# Compute capability from which NVIDIA GPUs have bfloat16 tensor cores (Ampere).
GPU_BF16_CAPABILITY = (8, 0)
KERAS_BF16_POLICY = "mixed_bfloat16"
ONEDNN_BF16_REWRITE = "auto_mixed_precision_onednn_bfloat16"


@dataclass(frozen=True)
class Hardware:
    """What decides ``auto``: the CPU's flags, whether TensorFlow's oneDNN backend is on
    (None: not asked, because nothing depended on it), and each visible GPU's compute
    capability (None where TensorFlow does not report one)."""

    cpu_flags: frozenset[str]
    onednn: bool | None
    gpus: tuple[tuple[int, int] | None, ...]

    @property
    def cpu_bf16(self) -> tuple[str, ...]:
        return tuple(f for f in CPU_BF16_FLAGS if f in self.cpu_flags)


@dataclass(frozen=True)
class Choice:
    """A resolved precision (``float32`` or ``bfloat16``) and why it was chosen."""

    precision: str
    reason: str


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The flags of the first CPU in ``cpuinfo`` (empty where it cannot be read: not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def gpu_present() -> bool:
    """Whether this machine has an NVIDIA device (then TensorFlow's device lines are kept)."""
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels in this process (TensorFlow decides it
    when it starts, from ``TF_ENABLE_ONEDNN_OPTS`` and the CPU)."""
    import tensorflow as tf  # noqa: F401  (starts TensorFlow, which makes the decision)

    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # a TensorFlow without the private helper: the documented switch
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").lower() in ("1", "true")
    return bool(_pywrap_util_port.IsMklEnabled())


def gpu_capabilities() -> tuple[tuple[int, int] | None, ...]:
    """Compute capability of every GPU TensorFlow sees (TensorFlow is only asked when an
    NVIDIA device exists, so CPU machines never start it for this)."""
    if not gpu_present():
        return ()
    import tensorflow as tf

    found = []
    for device in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(device).get("compute_capability")
        found.append(tuple(capability) if capability else None)
    return tuple(found)


@functools.cache
def detect() -> Hardware:
    """This machine's :class:`Hardware`, once per process. oneDNN is only asked about on a CPU
    with bfloat16 flags (it is what ``auto`` and VGGish's rewrite then depend on)."""
    flags, gpus = cpu_flags(CPUINFO), gpu_capabilities()
    needs_onednn = any(f in flags for f in CPU_BF16_FLAGS)
    return Hardware(cpu_flags=flags, onednn=onednn_enabled() if needs_onednn else None, gpus=gpus)


def check_precision(setting: Any, *, name: str) -> str:
    """``setting`` if it is one of :data:`PRECISIONS`, else a :class:`ParameterError`
    naming the parameter ``name`` and the value."""
    if setting not in PRECISIONS:
        raise ParameterError(f"{name} must be one of {PRECISIONS}, got {setting!r}")
    return str(setting)


def resolve(setting: str, *, name: str, engine: str, hardware: Hardware | None = None) -> Choice:
    """The precision ``setting`` (of parameter ``name``) means for a network converted by
    ``engine`` (:data:`ENGINES`) on ``hardware`` (default: this machine's)."""
    check_precision(setting, name=name)
    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {ENGINES}, got {engine!r}")
    if setting == FLOAT32:
        return Choice(FLOAT32, "as set")
    hw = detect() if hardware is None else hardware
    if setting == BFLOAT16:
        if engine == "graph":
            _require_graph_rewrite(hw, name=name)
        return Choice(BFLOAT16, "as set, " + ("native" if _native(hw, engine) else _emulated(hw)))
    return _auto_gpu(hw, engine) if hw.gpus else _auto_cpu(hw)


def _auto_gpu(hw: Hardware, engine: str) -> Choice:
    capabilities = f"compute capability {_capabilities(hw)}"
    if engine == "graph":
        why = "this SavedModel runs on the GPU; oneDNN's bfloat16 rewrite converts CPU operations"
        return Choice(FLOAT32, why)
    if _native(hw, engine):
        return Choice(BFLOAT16, f"every GPU has bfloat16 tensor cores ({capabilities})")
    return Choice(FLOAT32, f"not every GPU has bfloat16 tensor cores ({capabilities}, 8.0 needed)")


def _auto_cpu(hw: Hardware) -> Choice:
    if not hw.cpu_bf16:
        flags = " nor ".join(CPU_BF16_FLAGS)
        return Choice(FLOAT32, f"this CPU has no native bfloat16: neither {flags} among its flags")
    found = "+".join(hw.cpu_bf16)
    if not hw.onednn:
        why = (
            f"this CPU has {found}, but TensorFlow's oneDNN backend is off (TF_ENABLE_ONEDNN_OPTS)"
        )
        return Choice(FLOAT32, why)
    return Choice(BFLOAT16, f"this CPU has {found} and TensorFlow's oneDNN backend is on")


def _native(hw: Hardware, engine: str) -> bool:
    if hw.gpus:
        capable = all(c is not None and c >= GPU_BF16_CAPABILITY for c in hw.gpus)
        return engine == "keras" and capable
    return bool(hw.cpu_bf16) and bool(hw.onednn)


def _emulated(hw: Hardware) -> str:
    if hw.gpus:
        return f"not native on GPUs of compute capability {_capabilities(hw)}: slower"
    return "not native on this CPU (no amx_bf16/avx512_bf16, or oneDNN off): emulated, slower"


def _capabilities(hw: Hardware) -> str:
    return ", ".join("?" if c is None else f"{c[0]}.{c[1]}" for c in hw.gpus)


def _require_graph_rewrite(hw: Hardware, *, name: str) -> None:
    """VGGish in bfloat16 needs oneDNN's CPU rewrite: say why it cannot run, rather than
    compute float32 under a bfloat16 label."""
    if hw.gpus:
        raise ParameterError(
            f"{name}=bfloat16 cannot apply to VGGish here: it runs on the GPU, and TensorFlow's "
            "oneDNN bfloat16 rewrite converts CPU operations only. Set it to auto or float32."
        )
    onednn = onednn_enabled() if hw.onednn is None else hw.onednn
    if not onednn:
        raise ParameterError(
            f"{name}=bfloat16 cannot apply to VGGish in this process: it needs TensorFlow's "
            "oneDNN CPU backend, which TensorFlow turned off (it does so on CPUs without "
            "AVX512-VNNI/BF16 or AMX, or with TF_ENABLE_ONEDNN_OPTS=0). Start the run with "
            "TF_ENABLE_ONEDNN_OPTS=1 to force it (emulated on this CPU: slower), or set the "
            "precision to auto or float32."
        )


@functools.cache
def resolved(setting: str, *, name: str, engine: str) -> Choice:
    """:func:`resolve` on this machine, once per process and arguments."""
    return resolve(setting, name=name, engine=engine)


# What this process has logged: each choice is logged once.
_announced: set[tuple[str, str, Choice]] = set()
_announced_lock = threading.Lock()


def announce(name: str, setting: str, network: str, choice: Choice) -> None:
    """Log, once per process, that ``network`` runs in ``choice`` under ``name=setting``, and
    why (called where the network is first used, so a run without it says nothing), e.g.
    ``feature_extraction.precision=auto -> float32 for MusiCNN (this CPU has no native ...)``."""
    key = (name, network, choice)
    with _announced_lock:
        if key in _announced:
            return
        _announced.add(key)
    logger.info("%s=%s -> %s for %s (%s)", name, setting, choice.precision, network, choice.reason)


# ------------------------------------------------------------------------------ conversion


def keras_in_precision(model: Any, precision: str) -> Any:
    """``model`` itself for float32; for bfloat16 a clone (same weights) whose layers compute
    in bfloat16 with float32 variables, except ``Normalization`` layers and the layers that
    produce the outputs (which therefore stay float32 where a layer makes them)."""
    if precision == FLOAT32:
        return model
    if precision != BFLOAT16:
        raise ParameterError(f"precision must be {FLOAT32} or {BFLOAT16}, got {precision!r}")
    import keras

    keep = {id(t._keras_history.operation) for t in keras.tree.flatten(model.outputs)}

    def convert(layer: Any) -> Any:
        config = layer.get_config()
        if (
            isinstance(layer, keras.layers.Layer)
            and not isinstance(layer, keras.layers.InputLayer | keras.layers.Normalization)
            and id(layer) not in keep
        ):
            config["dtype"] = KERAS_BF16_POLICY
        return layer.__class__.from_config(config)

    clone = keras.models.clone_model(model, clone_function=convert)
    clone.set_weights(model.get_weights())
    return clone


_rewrite_lock = threading.RLock()


@contextlib.contextmanager
def onednn_bfloat16_rewrite(precision: str = BFLOAT16) -> Iterator[None]:
    """Inside: TensorFlow graphs (a SavedModel's functions) called by this thread are
    converted by oneDNN's automatic bfloat16 mixed precision (a no-op for ``float32``). The
    option is process-global, so it is switched off again on the way out: a model trained
    later in the process runs in float32."""
    if precision == FLOAT32:
        yield
        return
    import tensorflow as tf

    with _rewrite_lock:
        before = tf.config.optimizer.get_experimental_options().get(ONEDNN_BF16_REWRITE, False)
        tf.config.optimizer.set_experimental_options({ONEDNN_BF16_REWRITE: True})
        try:
            yield
        finally:
            tf.config.optimizer.set_experimental_options({ONEDNN_BF16_REWRITE: before})


def trained_model_precision(setting: str, *, name: str = "inference.precision") -> str:
    """``setting`` resolved for the trained (Keras) models that score tracks, logged once."""
    choice = resolved(check_precision(setting, name=name), name=name, engine="keras")
    announce(name, setting, "the trained models", choice)
    return choice.precision
