"""Inference nodes: VAD timelines for any audio with the trained models, and the emotional
profile of each movie. The code lives by job; this module is what the pipeline wires:

- :mod:`.listing`: the tracks to score (a file, a folder, a CSV list);
- :mod:`.models`: which trained model scores each label, and the identity outputs record;
- :mod:`.scoring`: per-track scoring into the resumable track cache, on this process or Dask
  (the per-track work itself is :mod:`.track`);
- :mod:`.profile`: the run's tables from the cache, and a movie's profile and arc;
- :mod:`.catalogue`: many movies at once; :mod:`.plots`: the figures.
"""

from soundtrack_emotion.pipelines.inference.listing import CSV_SUFFIX, list_inference_tracks
from soundtrack_emotion.pipelines.inference.models import (
    IDENTITY_COLUMNS,
    MODEL_COLUMNS,
    OUTPUT_IDENTITY,
    model_identity,
    model_key,
    select_inference_models,
    split_model_key,
)
from soundtrack_emotion.pipelines.inference.profile import (
    MOVIE_COLUMNS,
    TRACK_COLUMNS,
    build_movie_profile,
    collect_vad_timelines,
    stream_vad_tables,
)
from soundtrack_emotion.pipelines.inference.scoring import predict_vad_timelines, track_cache_key
from soundtrack_emotion.pipelines.inference.track import DOMAIN_COLUMNS, TIMELINE_COLUMNS

__all__ = [
    "CSV_SUFFIX",
    "DOMAIN_COLUMNS",
    "IDENTITY_COLUMNS",
    "MODEL_COLUMNS",
    "MOVIE_COLUMNS",
    "OUTPUT_IDENTITY",
    "TIMELINE_COLUMNS",
    "TRACK_COLUMNS",
    "build_movie_profile",
    "collect_vad_timelines",
    "list_inference_tracks",
    "model_identity",
    "model_key",
    "predict_vad_timelines",
    "select_inference_models",
    "split_model_key",
    "stream_vad_tables",
    "track_cache_key",
]
