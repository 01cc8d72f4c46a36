"""A trained model's file and the hash that ties it to its metrics.

Training serialises the model once (:func:`serialise_model`); those very bytes are written to
``data/06_models/.../<target>.keras`` and logged to MLflow, and their SHA-256 goes into the
model's provenance, hence its metrics report and ``model_metrics`` (``model_sha256``). Whatever
order the files are written in, a run that stops between them, or a file replaced later, leaves
weights whose hash differs from the one their scores were recorded with: :meth:`ModelFile.load`
refuses them, naming the file and both hashes, instead of letting inference choose a model by
another model's scores.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soundtrack_emotion.exceptions import ModelUnavailableError

MODEL_SUFFIX = ".keras"


def sha256_hex(content: bytes) -> str:
    """The SHA-256 of ``content``, 64 hex digits."""
    return hashlib.sha256(content).hexdigest()


def serialise_model(model: Any) -> bytes:
    """The bytes of ``model`` saved as a ``.keras`` file (what the model file will hold)."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"model{MODEL_SUFFIX}"
        model.save(path)
        return path.read_bytes()


def deserialise_model(content: bytes) -> Any:
    """The Keras model of ``.keras`` bytes (read from a private temporary copy, so the bytes
    loaded are the bytes that were checked)."""
    import keras

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"model{MODEL_SUFFIX}"
        path.write_bytes(content)
        return keras.saving.load_model(path)


@dataclass(frozen=True)
class ModelFile:
    """A trained model's ``.keras`` file as read: where it lies and its bytes. Only
    :meth:`load` turns it into a model, and only when the bytes are the ones recorded."""

    path: str
    content: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return sha256_hex(self.content)

    def load(self, *, expected_sha256: str | None, name: str, retrain: str = "") -> Any:
        """The model, when the file's SHA-256 is ``expected_sha256`` (the one its metrics
        recorded); else :class:`ModelUnavailableError` naming the file and both hashes.
        ``name`` names the model, ``retrain`` the command that trains it again."""
        how = f" ({retrain})" if retrain else ""
        if not expected_sha256:
            raise ModelUnavailableError(
                f"model {name}: {self.path} has no recorded SHA-256 in model_metrics (trained "
                "before file hashes were recorded, or its metrics report is missing), so "
                "nothing says these weights are the ones its scores were measured on. Retrain "
                f"it{how}; it is not used."
            )
        actual = self.sha256
        if actual != expected_sha256:
            raise ModelUnavailableError(
                f"model {name}: {self.path} is not the file its metrics were recorded for: its "
                f"SHA-256 is {actual}, model_metrics records {expected_sha256} (a run stopped "
                "between writing the weights and their metrics, or the file was replaced). "
                f"Retrain it{how} or restore the file that was scored; it is not used."
            )
        return deserialise_model(self.content)
