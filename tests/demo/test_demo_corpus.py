"""The demo corpus: determinism, the raw-layer contract, the bad entries, label fidelity."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from soundtrack_emotion.core.audio import decode
from soundtrack_emotion.core.labelling import label_track, normalise_tag
from soundtrack_emotion.core.matching import make_track_id
from soundtrack_emotion.datasets.raw_layer import RAW_ENTRIES, RawLayer
from soundtrack_emotion.demo import (
    BadEntry,
    DemoConfig,
    build_demo_corpus,
    plan_corpus,
)
from soundtrack_emotion.demo.corpus import (
    AUDIO_FORMATS,
    MP3_SAMPLE_RATE_FALLBACK,
    SAMPLE_RATES,
    SHORT_CLIP_SECONDS,
)
from soundtrack_emotion.demo.lexicon import MOOD_WORDS, NON_MOOD_WORDS
from soundtrack_emotion.demo.tags import OUT_OF_LEXICON_MOODS
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.dataset_creation.tag_filter import AffectFilter


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_two_builds_are_byte_identical_whatever_the_worker_count(
    tmp_path, small_demo_config, project_catalog
):
    config = dataclasses.replace(small_demo_config, n_tracks=5, max_seconds=1.5)
    for root, workers in (("a", 1), ("b", 2)):
        layer = RawLayer.from_catalog(project_catalog(tmp_path / root, RAW_ENTRIES.values()))
        build_demo_corpus(layer, dataclasses.replace(config, workers=workers))
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert first.keys() == second.keys()
    assert any(name.endswith(".ogg") for name in first)  # the container with random serials
    assert [name for name in first if first[name] != second[name]] == []


def test_another_seed_gives_another_corpus(small_demo_config):
    first = plan_corpus(small_demo_config)
    other = plan_corpus(dataclasses.replace(small_demo_config, seed=8))
    assert {t.track_id for t in first} != {t.track_id for t in other}


def test_raw_layer_has_the_contract_layout(small_demo):
    root, layer, tracks = small_demo
    ids = {t.track_id for t in tracks}
    assert {p.stem for p in layer.top_tags.iterdir()} == ids
    assert {p.stem for p in layer.search.iterdir()} == ids
    audio = {p.stem for p in layer.audio.iterdir()}
    missing = {t.track_id for t in tracks if t.bad == BadEntry.MISSING_AUDIO}
    assert audio == ids - missing and len(missing) == 1
    pages = sorted((layer.tag_pages / "soundtrack").iterdir())
    assert [p.name for p in pages] == ["page-0001.json", "page-0002.json", "page-0003.json"]
    assert layer.lexicon.is_file() and layer.present and layer.is_demo
    assert not [p for p in root.rglob(".*")]  # no scratch or temporary files left behind


def test_the_demo_writes_where_the_catalog_points(tmp_path, small_demo_config, project_catalog):
    """Every raw entry moved (some to another folder tree): the demo follows the catalog."""
    moved = {
        "lastfm_tag_top_tracks": "elsewhere/pages",
        "lastfm_track_top_tags": "elsewhere/tags",
        "spotify_search": "spotify_answers",
        "raw_audio_files": "media/audio",
        "vad_lexicon_source": "lexicons/demo.tsv",
        "demo_ground_truth": "truth/latent.csv",
    }
    layer = RawLayer.from_catalog(project_catalog(tmp_path, RAW_ENTRIES.values(), moved=moved))
    tracks = build_demo_corpus(layer, dataclasses.replace(small_demo_config, n_tracks=3))
    ids = {t.track_id for t in tracks}
    assert {p.stem for p in (tmp_path / "elsewhere/tags").iterdir()} == ids
    assert {p.stem for p in (tmp_path / "spotify_answers").iterdir()} == ids
    assert {p.stem for p in (tmp_path / "media/audio").iterdir()} < ids  # one has no audio
    assert list((tmp_path / "elsewhere/pages/soundtrack").iterdir())
    assert (tmp_path / "lexicons/demo.tsv").is_file() and (tmp_path / "truth/latent.csv").is_file()
    assert not (tmp_path / "data").exists()
    assert not [p for p in tmp_path.rglob(".*")]  # no scratch folder left next to any of them


def test_lastfm_pages_have_the_api_shape_and_list_every_track_once_plus_a_duplicate(small_demo):
    _, layer, tracks = small_demo
    listed = []
    for page in sorted((layer.tag_pages / "soundtrack").iterdir()):
        body = json.loads(page.read_text(encoding="utf-8"))
        attr = body["tracks"]["@attr"]
        assert attr["tag"] == "soundtrack" and attr["perPage"] == "8"
        assert attr["total"] == str(len(tracks) + 1) and attr["totalPages"] == "3"
        for entry in body["tracks"]["track"]:
            assert set(entry) >= {"name", "duration", "mbid", "url", "artist", "image", "@attr"}
            listed.append(
                (make_track_id(entry["artist"]["name"], entry["name"]), int(entry["@attr"]["rank"]))
            )
    assert [rank for _, rank in listed] == list(range(1, len(tracks) + 2))
    assert [i for i, _ in listed[:-1]] == [t.track_id for t in tracks]
    assert listed[-1][0] == tracks[0].track_id  # the duplicate listing, in capitals


def test_top_tags_look_like_lastfm(small_demo):
    _, layer, tracks = small_demo
    for track in tracks:
        body = json.loads((layer.top_tags / f"{track.track_id}.json").read_text(encoding="utf-8"))
        tags = body["toptags"]["tag"]
        assert body["toptags"]["@attr"] == {"artist": track.artist, "track": track.title}
        counts = [t["count"] for t in tags]
        assert counts == sorted(counts, reverse=True)
        assert all(isinstance(c, int) and 0 <= c <= 100 for c in counts)
        if track.bad == BadEntry.NO_TAGS:
            assert tags == []
        elif track.bad == BadEntry.ZERO_COUNTS:
            assert tags and set(counts) == {0}
        else:
            assert counts[0] == 100
            assert all(t["url"].startswith("https://www.last.fm/tag/") for t in tags)


def test_spotify_search_bodies_have_the_api_shape(small_demo):
    _, layer, tracks = small_demo
    for track in tracks:
        body = json.loads((layer.search / f"{track.track_id}.json").read_text())
        page = body["tracks"]
        assert set(page) == {"href", "items", "limit", "next", "offset", "previous", "total"}
        for item in page["items"]:
            assert len(item["id"]) == 22 and item["type"] == "track"
            assert isinstance(item["duration_ms"], int) and item["artists"][0]["name"]
        own = [i for i in page["items"] if i["artists"][0]["name"] == track.artist]
        assert (len(own) == 0) == (track.bad == BadEntry.NO_SPOTIFY_MATCH)


def test_audio_files_decode_except_the_corrupt_one(small_demo, capfd):
    _, layer, tracks = small_demo
    for track in tracks:
        path = layer.audio / f"{track.track_id}.{track.extension}"
        if track.bad == BadEntry.MISSING_AUDIO:
            assert not path.exists()
        elif track.bad == BadEntry.CORRUPT_AUDIO:
            with pytest.raises(sf.LibsndfileError):
                sf.read(path)
        else:
            audio, rate = sf.read(path, always_2d=True)
            assert rate == track.sample_rate and audio.shape[1] == track.channels
            seconds = SHORT_CLIP_SECONDS if track.bad == BadEntry.SHORT_CLIP else track.seconds
            # MP3 and Vorbis pad the end by a few milliseconds.
            assert len(audio) / rate == pytest.approx(seconds, abs=0.08)
            assert 0.01 < np.abs(audio).max() <= 1.0
            # The project's decoder agrees, and finds nothing to warn about (header lengths
            # match, no invalid samples).
            decoded = decode(path, sample_rates=(track.sample_rate,))
            assert len(decoded[track.sample_rate]) == len(audio) and not decoded.warnings
    # libmpg123 reports damaged MP3 frames on the process's stderr (see MP3_SAMPLE_RATE_FALLBACK)
    assert "error" not in capfd.readouterr().err


def test_formats_rates_and_channel_counts_all_occur():
    tracks = plan_corpus(DemoConfig(n_tracks=24))
    combos = {(t.extension, t.sample_rate, t.channels) for t in tracks}
    mp3_rates = {MP3_SAMPLE_RATE_FALLBACK.get(sr, sr) for sr in SAMPLE_RATES}
    assert combos >= {
        (ext, sr, ch)
        for ext, _ in AUDIO_FORMATS
        for sr in (mp3_rates if ext == "mp3" else SAMPLE_RATES)
        for ch in (1, 2)
    }
    assert {sr for _, sr, _ in combos} == set(SAMPLE_RATES)
    assert not any(ext == "mp3" and sr == 22050 for ext, sr, _ in combos)


def test_default_corpus_has_every_bad_entry_and_several_tracks_per_artist():
    tracks = plan_corpus(DemoConfig())
    assert sorted(t.bad for t in tracks if t.bad) == sorted(BadEntry.ALL)
    assert len(tracks) == 160 + len(BadEntry.ALL)
    assert len({t.track_id for t in tracks}) == len(tracks)
    per_artist = pd.Series([t.artist for t in tracks]).value_counts()
    assert per_artist.min() >= 1 and per_artist.median() >= 3 and len(per_artist) >= 20
    assert all(20.0 <= t.seconds <= 45.0 for t in tracks if t.bad != BadEntry.SHORT_CLIP)


def test_ground_truth_holds_every_latent(small_demo):
    _, layer, tracks = small_demo
    truth = pd.read_csv(layer.ground_truth)
    assert list(truth.columns) == ["id", "valence", "arousal", "dominance"]
    assert truth["id"].tolist() == [t.track_id for t in tracks]
    np.testing.assert_allclose(
        truth[["valence", "arousal", "dominance"]].to_numpy(), [t.latent for t in tracks], atol=1e-6
    )


def test_tag_labels_follow_the_latent_vad():
    """The thesis's label computed from the demo tags correlates strongly with the latent."""
    tracks = [t for t in plan_corpus(DemoConfig()) if t.bad is None]
    lexicon = {normalise_tag(w): vad for w, vad in {**MOOD_WORDS, **NON_MOOD_WORDS}.items()}
    labels = [label_track(t.tags, lexicon, AffectFilter()) for t in tracks]
    latent = np.array([t.latent for t in tracks])
    derived = np.array([(lab.valence, lab.arousal, lab.dominance) for lab in labels])
    for dim in range(3):
        assert np.corrcoef(latent[:, dim], derived[:, dim])[0, 1] > 0.9
        assert latent[:, dim].max() - latent[:, dim].min() > 0.75  # spread over most of 0..1


def test_tags_mix_moods_genres_unknown_words_and_spelling_variants():
    tags = [name for t in plan_corpus(DemoConfig()) for name, _ in t.tags]
    assert any(name != name.strip() for name in tags)
    assert any(name != name.lower() for name in tags)
    assert any(" " in name.strip() and name.replace("-", " ") != name for name in tags) or any(
        "-" in name for name in tags
    )
    assert {"soundtrack", "seen live"} <= {name.strip().lower() for name in tags}


def test_tags_are_as_messy_as_real_ones():
    """About a third of the weight names no feeling, across every non-affect kind, spelled in
    variants; the affect filter agrees with the demo on every lexicon word."""
    decide = AffectFilter().decide
    assert all(decide(w).kept for w in MOOD_WORDS)
    assert not any(decide(w).kept for w in NON_MOOD_WORDS)
    tracks = [t for t in plan_corpus(DemoConfig()) if t.bad is None]
    weights = [(decide(name), count) for t in tracks for name, count in t.tags]
    share = sum(c for d, c in weights if not d.kept) / sum(c for _, c in weights)
    assert 0.28 < share < 0.42
    assert all(decide(w).kept for w in OUT_OF_LEXICON_MOODS)
    classes = {d.tag_class for d, _ in weights if not d.kept}
    assert {"genre", "instrument_voice", "place_language", "era", "liking_meta"} <= classes
    names = {name.strip() for t in tracks for name, _ in t.tags}
    hip_hop = {n for n in names if n.casefold().replace("-", "").replace(" ", "") == "hiphop"}
    assert len(hip_hop) >= 3 and "hiphop" in hip_hop and any("-" in n for n in hip_hop)


def test_bad_config_values_raise_parameter_error():
    with pytest.raises(ParameterError, match="n_tracks"):
        DemoConfig(n_tracks=0)
    with pytest.raises(ParameterError, match="min_seconds"):
        DemoConfig(min_seconds=30.0, max_seconds=20.0)
    with pytest.raises(ParameterError, match="unknown demo parameters"):
        DemoConfig.from_params({"n_track": 3})
