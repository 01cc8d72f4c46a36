"""Inference nodes: VAD timelines for any audio with the trained models, and the emotional
profile of a soundtrack album, one module per job:

* :mod:`.listing`: which tracks to score, in album order;
* :mod:`.models`: which trained model predicts each label, and loading only those;
* :mod:`.scoring`: scoring through the per-track cache (resumable), and the run's tables;
* :mod:`.track`: the per-track work (:func:`infer_track`);
* :mod:`.profile`: the movie profile and CSV exports; :mod:`.plots`: the figures.

The pipeline imports the nodes from here.
"""

from soundtrack_emotion.pipelines.inference.listing import CSV_SUFFIX, list_inference_tracks
from soundtrack_emotion.pipelines.inference.models import (
    BEST,
    KEY_SEPARATOR,
    MODEL_COLUMNS,
    load_chosen_models,
    model_fingerprint,
    model_key,
    select_inference_models,
    split_model_key,
)
from soundtrack_emotion.pipelines.inference.profile import build_movie_profile, export_csv
from soundtrack_emotion.pipelines.inference.scoring import (
    INFERENCE_VERSION,
    TRACK_COLUMNS,
    collect_vad_timelines,
    inference_fingerprint,
    predict_vad_timelines,
    track_cache_key,
)
from soundtrack_emotion.pipelines.inference.track import TIMELINE_COLUMNS, WAVEFORM_COLUMNS

__all__ = [
    "BEST",
    "CSV_SUFFIX",
    "INFERENCE_VERSION",
    "KEY_SEPARATOR",
    "MODEL_COLUMNS",
    "TIMELINE_COLUMNS",
    "TRACK_COLUMNS",
    "WAVEFORM_COLUMNS",
    "build_movie_profile",
    "collect_vad_timelines",
    "export_csv",
    "inference_fingerprint",
    "list_inference_tracks",
    "load_chosen_models",
    "model_fingerprint",
    "model_key",
    "predict_vad_timelines",
    "select_inference_models",
    "split_model_key",
    "track_cache_key",
]
