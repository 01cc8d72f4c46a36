"""dataset_creation end to end on a small demo corpus, with the project's own catalog entries
and parameters (paths moved under a temporary folder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from soundtrack_emotion.core.labelling import DropReason
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.demo import BadEntry
from soundtrack_emotion.pipelines.dataset_creation import create_pipeline
from soundtrack_emotion.pipelines.dataset_creation.nodes import SOUNDTRACK_COLUMNS

CONF = Path(__file__).resolve().parents[3] / "conf" / "base"
EXPECTED_DROPS = {
    BadEntry.NO_TAGS: ("with_tags", DropReason.NO_TAGS),
    BadEntry.NO_MOOD_TAGS: ("with_mood_tags", DropReason.ONLY_NON_AFFECT_TAGS),
    BadEntry.ZERO_COUNTS: ("with_mood_tags", DropReason.ZERO_MOOD_WEIGHT),
    BadEntry.NO_SPOTIFY_MATCH: ("with_spotify_id", DropReason.NO_SPOTIFY_MATCH),
    BadEntry.MISSING_AUDIO: ("with_audio", DropReason.NO_AUDIO_FILE),
}


def add_dataset_creation_parameters(catalog: DataCatalog) -> DataCatalog:
    """``params:dataset_creation.<key>`` from conf/base, as a Kedro session adds them."""
    params = yaml.safe_load((CONF / "parameters_dataset_creation.yml").read_text())
    for key, value in params["dataset_creation"].items():
        catalog[f"params:dataset_creation.{key}"] = value
    return catalog


@pytest.fixture(scope="module")
def run_outputs(small_demo, project_catalog):
    root, layer, tracks = small_demo
    pipeline = create_pipeline()
    datasets = {d for d in pipeline.datasets() if not d.startswith("params:")}
    catalog = add_dataset_creation_parameters(project_catalog(root, datasets))
    SequentialRunner().run(pipeline, catalog)
    return catalog, tracks, layer


def test_every_output_of_the_pipeline_is_catalogued_with_a_layer():
    config = yaml.safe_load((CONF / "catalog_dataset_creation.yml").read_text(encoding="utf-8"))
    for name in create_pipeline().datasets():
        if not name.startswith("params:"):
            assert config[name]["metadata"]["kedro-viz"]["layer"], name


def test_report_counts_every_step_and_every_bad_entry(run_outputs):
    catalog, tracks, _ = run_outputs
    report = catalog.load("dataset_report")
    n = len(tracks)
    assert report["counts"] == {
        "crawled": n,
        "with_tags": n - 1,
        "with_mood_tags": n - 3,
        "with_spotify_id": n - 4,
        "with_audio": n - 5,
        "kept": n - 5,
    }
    by_id = {d["id"]: (d["failed_step"], d["reason"]) for d in report["dropped"]}
    bad = {t.bad: t.track_id for t in tracks if t.bad}
    assert by_id == {bad[kind]: expected for kind, expected in EXPECTED_DROPS.items()}
    assert sum(report["splits"].values()) == n - 5


def test_soundtracks_keep_the_corrupt_and_the_short_file(run_outputs):
    catalog, tracks, _ = run_outputs
    soundtracks = catalog.load("soundtracks").set_index("id")
    for track in tracks:
        if track.bad in (BadEntry.CORRUPT_AUDIO, BadEntry.SHORT_CLIP):
            path = Path(soundtracks.loc[track.track_id, "audio_path"])
            assert path.is_file() and path.suffix == f".{track.extension}"


def test_soundtracks_follow_the_contract(run_outputs):
    catalog, _, _ = run_outputs
    soundtracks = catalog.load("soundtracks")  # read back from Parquet
    assert list(soundtracks.columns) == list(SOUNDTRACK_COLUMNS)
    assert soundtracks["id"].is_unique and not soundtracks.isna().any().any()
    assert soundtracks[list(VAD_LABELS)].apply(lambda c: c.between(0, 1).all()).all()
    assert soundtracks["duration_ms"].dtype == "int64" and soundtracks["n_mood_tags"].min() >= 1
    assert soundtracks.groupby("artist")["split"].nunique().max() == 1  # grouped by artist
    moods = soundtracks["weighted_mood"].map(json.loads)
    assert (moods.map(len) == soundtracks["n_mood_tags"]).all()
    assert all(list(m.values()) == sorted(m.values(), reverse=True) for m in moods)


def test_labels_follow_the_hidden_latent_vad(run_outputs):
    catalog, _, layer = run_outputs
    soundtracks = catalog.load("soundtracks").set_index("id")
    truth = pd.read_csv(layer.ground_truth).set_index("id").loc[soundtracks.index]
    for label in VAD_LABELS:
        assert np.corrcoef(soundtracks[label], truth[label])[0, 1] > 0.9


def test_lexicon_is_normalised_and_genre_words_do_not_label(run_outputs):
    catalog, _, _ = run_outputs
    lexicon = catalog.load("vad_lexicon")
    assert {"feel good", "laid back", "rock", "sad"} <= set(lexicon["word"])
    moods = set().union(*catalog.load("soundtracks")["weighted_mood"].map(json.loads))
    assert not moods & {"rock", "soundtrack", "film", "piano", "folk", "awesome", "hip hop"}
    assert not moods & {"guitar", "german", "love", "cool", "favorite", "live"}


def test_every_dropped_tag_is_recorded_with_its_class_and_reported(run_outputs):
    catalog, _, _ = run_outputs
    decisions = catalog.load("tag_decisions")
    dropped = decisions[~decisions["tag_class"].isin(["affect"])]
    assert not dropped["used"].any() and decisions.loc[decisions["used"], "in_lexicon"].all()
    assert {"genre", "instrument_voice", "place_language", "era", "liking_meta"} <= set(
        dropped["tag_class"]
    )
    summary = catalog.load("dataset_report")["tag_filter"]
    assert summary["tag_filter"] == "affect" and summary["vocabulary_version"]
    assert 0.15 < summary["label_weight_removed_share"] < 0.6
    assert 0.25 < summary["tag_weight_dropped_share"] < 0.5  # the demo's third of the weight
    heaviest = summary["heaviest_dropped_tags"]
    assert heaviest[0]["tag"] == "soundtrack" and heaviest[0]["class"] == "media"
    shares = [t["weight_share"] for t in heaviest]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1
    assert summary["tracks_left_without_label"] == 1  # the demo's only-genre-tags track


def test_report_states_no_artist_group_spans_two_splits(run_outputs):
    catalog, _, _ = run_outputs
    groups = catalog.load("dataset_report")["split_groups"]
    assert groups["group_by"] == "artists" and groups["groups_spanning_two_splits"] == 0
    assert groups["statement"] == "no artists group spans two splits"


def test_stop_list_filter_gives_the_thesis_labels_back(run_outputs, tmp_path):
    """tag_filter: stop_list is the thesis's rule, word for word: all but the stop-list."""
    from soundtrack_emotion.core.labelling import (
        label_track,
        normalise_tag,
        stop_set,
    )
    from soundtrack_emotion.pipelines.dataset_creation.nodes import label_tracks
    from soundtrack_emotion.pipelines.dataset_creation.tag_filter import StopListFilter

    catalog, _, _ = run_outputs
    params = yaml.safe_load((CONF / "parameters_dataset_creation.yml").read_text())
    stop_list = params["dataset_creation"]["stop_list"]
    lexicon_frame = catalog.load("vad_lexicon")
    labels, _ = label_tracks(
        catalog.load("tag_responses"), catalog.load("track_tags"), lexicon_frame,
        tag_filter="stop_list", stop_list=stop_list,
    )  # fmt: skip
    lexicon = {w: (v, a, d) for w, v, a, d in lexicon_frame.itertuples(index=False)}
    track_tags = catalog.load("track_tags")
    stop_words = frozenset(normalise_tag(w) for w in stop_list)
    for row in labels[labels["drop_reason"] == ""].itertuples(index=False):
        tags = track_tags[track_tags["id"] == row.id].sort_values("position")
        pairs = list(zip(tags["name"], tags["count"], strict=True))
        # the thesis's rule written out: normalised, not stop-listed, in the lexicon
        expected: dict[str, int] = {}
        for name, count in pairs:
            tag = normalise_tag(name)
            if tag and tag not in stop_words and tag in lexicon:
                expected[tag] = expected.get(tag, 0) + int(count)
        assert set(json.loads(row.weighted_mood)) == {t for t, c in expected.items() if c > 0}
        thesis = label_track(pairs, lexicon, StopListFilter(stop_set(stop_list)))
        assert (row.valence, row.arousal, row.dominance) == (
            thesis.valence,
            thesis.arousal,
            thesis.dominance,
        )
    assert "folk" in set().union(*labels["weighted_mood"].map(json.loads))  # unfiltered
