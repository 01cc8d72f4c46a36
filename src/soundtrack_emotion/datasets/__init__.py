"""Custom Kedro datasets of the project (each an ``AbstractDataset``)."""

from soundtrack_emotion.datasets.domain_reference_dataset import (
    DomainReferenceDataset,
    DomainReferencesDataset,
)
from soundtrack_emotion.datasets.feature_store import (
    FeatureRecord,
    FeatureStore,
    FeatureStoreDataset,
    SourceStamp,
)
from soundtrack_emotion.datasets.file_exists_dataset import FileExistsDataset
from soundtrack_emotion.datasets.file_store import FileStore
from soundtrack_emotion.datasets.folder_index_dataset import FolderIndexDataset
from soundtrack_emotion.datasets.json_index_dataset import JSONIndexDataset
from soundtrack_emotion.datasets.keras_model_dataset import KerasModelDataset, TrainedModelsDataset
from soundtrack_emotion.datasets.labelled_table_dataset import LabelledTableDataset
from soundtrack_emotion.datasets.lastfm_client import LastfmClient, LastfmClientDataset
from soundtrack_emotion.datasets.model_input_dataset import (
    FrameChunk,
    FrameSplit,
    ModelInputDataset,
    ModelInputs,
)
from soundtrack_emotion.datasets.optional_table_dataset import OptionalTableDataset
from soundtrack_emotion.datasets.raw_layer import RawLayer, RawLayerDataset
from soundtrack_emotion.datasets.spotify_client import SpotifyClient, SpotifyClientDataset
from soundtrack_emotion.datasets.streamed_table_dataset import StreamedTableDataset, TableChunk
from soundtrack_emotion.datasets.track_cache import CachedTrack, TrackCache, TrackCacheDataset
from soundtrack_emotion.datasets.vad_lexicon_dataset import (
    AFFECT_WORD_FORMATS,
    LEXICON_FORMATS,
    AffectWordListDataset,
    VadLexiconDataset,
    parse_vad_lexicon,
)

__all__ = [
    "AFFECT_WORD_FORMATS",
    "LEXICON_FORMATS",
    "AffectWordListDataset",
    "CachedTrack",
    "DomainReferenceDataset",
    "DomainReferencesDataset",
    "FeatureRecord",
    "FeatureStore",
    "FeatureStoreDataset",
    "FileExistsDataset",
    "FileStore",
    "FolderIndexDataset",
    "FrameChunk",
    "FrameSplit",
    "JSONIndexDataset",
    "KerasModelDataset",
    "LabelledTableDataset",
    "LastfmClient",
    "LastfmClientDataset",
    "ModelInputDataset",
    "ModelInputs",
    "OptionalTableDataset",
    "RawLayer",
    "RawLayerDataset",
    "SourceStamp",
    "SpotifyClient",
    "SpotifyClientDataset",
    "StreamedTableDataset",
    "TableChunk",
    "TrackCache",
    "TrackCacheDataset",
    "TrainedModelsDataset",
    "VadLexiconDataset",
    "parse_vad_lexicon",
]
