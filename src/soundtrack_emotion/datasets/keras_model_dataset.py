"""A trained model's ``.keras`` file as bytes: written atomically, read back as a
:class:`~soundtrack_emotion.core.model_files.ModelFile` that loads only when its SHA-256 is the
one its metrics recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro_datasets.partitions import PartitionedDataset

from soundtrack_emotion.core.model_files import MODEL_SUFFIX, ModelFile
from soundtrack_emotion.datasets.file_store import FileStore


class KerasModelDataset(AbstractDataset[bytes, ModelFile]):
    """``filepath``: the ``.keras`` file. ``save`` takes the serialised model (the bytes whose
    hash the node recorded) and writes them atomically (temporary file, fsync, rename), so the
    file is either the old model or the new one, never a mix; ``load`` returns a
    :class:`ModelFile` (no model is deserialised until it is checked)."""

    def __init__(self, *, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def load(self) -> ModelFile:
        try:
            return ModelFile(path=str(self._filepath), content=self._filepath.read_bytes())
        except OSError as error:
            raise DatasetError(f"{self._filepath}: cannot read the model file ({error})") from error

    def save(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise DatasetError(
                f"{self._filepath}: a model file is saved from its serialised bytes, got "
                f"{type(data).__name__}"
            )
        FileStore(self._filepath.parent).write_bytes(self._filepath.name, data)


class TrainedModelsDataset(PartitionedDataset):
    """Every trained model under ``path``, lazily: ``{"{feature}_{network}/{target}": loader}``
    (a ``PartitionedDataset`` of :class:`KerasModelDataset`); a loader reads one file."""

    def __init__(self, *, path: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(
            path=path,
            dataset=KerasModelDataset,
            filepath_arg="filepath",
            filename_suffix=MODEL_SUFFIX,
            metadata=metadata,
        )
