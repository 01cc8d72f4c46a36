"""The raw layer as its writers see it: the acquisition crawl and the demo corpus.

Its layout is defined once, by the raw entries of the catalog
(``conf/base/catalog_dataset_creation.yml`` and any override in ``conf/<env>/``).
:meth:`RawLayer.from_catalog` reads each entry's own path, so an entry moved there moves what
the crawl and the demo write, and dataset_creation reads it there::

    lastfm_tag_top_tracks   <tag>/page-<NNNN>.json   tag.getTopTracks bodies
    lastfm_track_top_tags   <track_id>.json          track.getTopTags bodies
    spotify_search          <track_id>.json          Spotify search bodies
    raw_audio_files         <track_id>.<ext>         one audio file per track
    vad_lexicon_source      a file                   the VAD lexicon (the demo writes its own)
    demo_ground_truth       a file                   the demo's hidden VAD (marks the demo)

The crawl writes through ``raw_layer_store``, a :class:`RawLayerDataset` without a path of its
own: :class:`~soundtrack_emotion.runtime.hooks.RawLayerHook` binds it to these entries when
the catalog is created (outside a session, :func:`bind_raw_layer` does the same).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from soundtrack_emotion.exceptions import ParameterError

RAW_LAYER_STORE = "raw_layer_store"
DEMO_MARKER = "corpus_is_demo"  # reads whether demo_ground_truth exists
# RawLayer field: the catalog entry whose path it is.
RAW_ENTRIES = {
    "tag_pages": "lastfm_tag_top_tracks",
    "top_tags": "lastfm_track_top_tags",
    "search": "spotify_search",
    "audio": "raw_audio_files",
    "lexicon": "vad_lexicon_source",
    "ground_truth": "demo_ground_truth",
}


def dataset_path(catalog: Any, name: str) -> Path:
    """The local file or folder of the catalogued dataset ``name``: its entry's ``path`` or
    ``filepath``, as the dataset itself reads it (Kedro makes it absolute in a session)."""
    if name not in catalog:
        raise ParameterError(f"the catalog has no entry {name!r}")
    description = catalog[name]._describe()  # Kedro's own account of a dataset's arguments
    path = description.get("path") or description.get("filepath")
    if not path:
        raise ParameterError(f"catalog entry {name!r} has no path or filepath: {description}")
    if "://" in str(path):
        raise ParameterError(f"catalog entry {name!r} must be a local path, got {str(path)!r}")
    return Path(str(path))


@dataclass(frozen=True)
class RawLayer:
    """Where each part of the raw layer lives (folders, then the two files)."""

    tag_pages: Path
    top_tags: Path
    search: Path
    audio: Path
    lexicon: Path
    ground_truth: Path

    @classmethod
    def from_catalog(cls, catalog: Any) -> RawLayer:
        """The paths of the catalog's raw entries (:data:`RAW_ENTRIES`)."""
        return cls(**{field: dataset_path(catalog, name) for field, name in RAW_ENTRIES.items()})

    @property
    def present(self) -> bool:
        """Whether a raw layer is there: the crawl writes tag pages first, the demo moves them
        in last, so they exist for any crawl (finished or not) and for a complete demo."""
        return self.tag_pages.exists()

    @property
    def is_demo(self) -> bool:
        """Whether it is the synthetic demo corpus (its ground truth exists)."""
        return self.ground_truth.exists()


class RawLayerDataset(AbstractDataset[None, RawLayer]):
    """``raw_layer_store``: loads the :class:`RawLayer` it is bound to; never saves (the crawl
    writes item by item, through :class:`~soundtrack_emotion.datasets.FileStore`)."""

    def __init__(self, *, metadata: dict[str, Any] | None = None) -> None:
        self._layer: RawLayer | None = None
        self.metadata = metadata

    def bind(self, layer: RawLayer) -> None:
        self._layer = layer

    def _describe(self) -> dict[str, Any]:
        return {
            "layer": {k: str(v) for k, v in asdict(self._layer).items()} if self._layer else None
        }

    def load(self) -> RawLayer:
        if self._layer is None:
            raise DatasetError(
                f"{RAW_LAYER_STORE} takes its paths from the catalog's raw entries "
                f"({', '.join(RAW_ENTRIES.values())}) when the catalog is created (RawLayerHook "
                "in settings.py); outside a Kedro session, call "
                "soundtrack_emotion.datasets.raw_layer.bind_raw_layer(catalog) first"
            )
        return self._layer

    def save(self, data: None) -> None:
        raise DatasetError(f"{RAW_LAYER_STORE} is written item by item, through its FileStores")


def bind_raw_layer(catalog: Any) -> RawLayer:
    """Bind the catalog's ``raw_layer_store`` (when it has one) to the catalog's raw entries,
    and return that layer. ``corpus_is_demo`` must look at the demo's ground truth: a demo
    model would otherwise pass for a real one."""
    layer = RawLayer.from_catalog(catalog)
    if RAW_LAYER_STORE in catalog and isinstance(catalog[RAW_LAYER_STORE], RawLayerDataset):
        catalog[RAW_LAYER_STORE].bind(layer)
    if DEMO_MARKER in catalog and dataset_path(catalog, DEMO_MARKER) != layer.ground_truth:
        raise ParameterError(
            f"catalog entry {DEMO_MARKER!r} must have {RAW_ENTRIES['ground_truth']!r}'s filepath "
            f"{str(layer.ground_truth)!r}, got {str(dataset_path(catalog, DEMO_MARKER))!r}"
        )
    return layer
