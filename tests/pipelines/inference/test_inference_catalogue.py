"""A catalogue of movies: listing, per-movie aggregation of changed movies only, the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.datasets import CachedTrack, SourceStamp, StreamedTableDataset, TrackCache
from soundtrack_emotion.datasets.track_cache import write_record
from soundtrack_emotion.exceptions import DataValidationError, ParameterError
from soundtrack_emotion.pipelines.inference.catalogue import (
    aggregate_movies,
    build_catalogue_table,
    list_catalogue_tracks,
    plot_catalogue,
)
from soundtrack_emotion.pipelines.inference.nodes import (
    MODEL_COLUMNS,
    collect_vad_timelines,
    stream_vad_tables,
    track_cache_key,
)

NO_SOUNDTRACKS = pd.DataFrame({"id": [], "audio_path": [], "split": []})
CHOSEN = pd.DataFrame(
    [(label, "mfcc", "cnn", label, 0, 0.1, np.nan) for label in VAD_LABELS],
    columns=list(MODEL_COLUMNS),
)


def _touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_folder_of_movie_folders_is_a_catalogue_and_a_folder_of_files_one_movie(tmp_path):
    for movie, names in {"Alien (1979)": ["02 b.wav", "01 a.flac"], "Up": ["x.mp3"]}.items():
        for name in names:
            _touch(tmp_path / "vod" / movie / name)
    (tmp_path / "vod" / "Empty").mkdir()
    tracks = list_catalogue_tracks(str(tmp_path / "vod"), "", NO_SOUNDTRACKS)
    assert tracks[["movie_id", "title", "position", "track"]].values.tolist() == [
        ["Alien_1979", "Alien (1979)", 1, "01 a"],
        ["Alien_1979", "Alien (1979)", 2, "02 b"],
        ["Up", "Up", 1, "x"],
    ]
    one = list_catalogue_tracks("", str(tmp_path / "vod" / "Up"), NO_SOUNDTRACKS)
    assert one[["movie_id", "title", "track"]].values.tolist() == [["Up", "Up", "x"]]
    titled = list_catalogue_tracks(str(tmp_path / "vod/Up"), "", NO_SOUNDTRACKS, (".mp3",), "Pixar")
    assert titled["title"].tolist() == ["Pixar"]


def test_a_catalogue_csv_keeps_extra_columns_and_orders_by_position(tmp_path):
    for name in ("a.wav", "b.wav", "c.wav"):
        _touch(tmp_path / "audio" / name)
    csv = tmp_path / "catalogue.csv"
    pd.DataFrame(
        {
            "movie_id": ["m2", "m1", "m1"],
            "title": ["Second", "First", "First"],
            "position": [1, 2, 1],
            "path": ["audio/c.wav", "audio/b.wav", str(tmp_path / "audio/a.wav")],
            "year": [2001, 1999, 1999],
            "genre": ["drama", "sci-fi", "sci-fi"],
        }
    ).to_csv(csv, index=False)
    tracks = list_catalogue_tracks(str(csv), "", NO_SOUNDTRACKS)
    assert tracks.columns.tolist() == [
        "movie_id", "title", "position", "track", "path", "year", "genre",
    ]  # fmt: skip
    assert tracks[["movie_id", "position", "track", "year"]].values.tolist() == [
        ["m1", 1, "a", 1999],
        ["m1", 2, "b", 1999],
        ["m2", 1, "c", 2001],
    ]
    assert tracks["path"].iloc[2] == str(tmp_path / "audio/c.wav")
    pd.DataFrame({"movie_id": ["m"], "title": ["t"]}).to_csv(csv, index=False)
    with pytest.raises(ParameterError, match="path"):
        list_catalogue_tracks(str(csv), "", NO_SOUNDTRACKS)


def _score(cache_dir, path, value: float, seconds: float, *, error: bool = False) -> None:
    """A track cache record as predict_vad_timelines writes it (hop 1 s)."""
    key = track_cache_key(str(path))
    source = SourceStamp.of(str(path))
    if error:
        write_record(cache_dir, CachedTrack(key=key, fingerprint="f", status="error",
                                            source=source, summary={"status": "error",
                                            "error": "unreadable", "n_windows": 0}))  # fmt: skip
        return
    starts = np.arange(seconds)
    arrays = {"timeline.start_s": starts, "timeline.end_s": starts + 1.0}
    arrays |= {f"timeline.{label}": np.full(len(starts), value) for label in VAD_LABELS}
    arrays |= {"waveform.time_s": starts + 0.5, "waveform.low": -starts, "waveform.high": starts}
    summary = {"status": "ok", "error": "", "duration_s": seconds, "n_windows": len(starts),
               **dict.fromkeys(VAD_LABELS, value)}  # fmt: skip
    write_record(cache_dir, CachedTrack(key=key, fingerprint="f", status="ok", source=source,
                                        summary=summary, arrays=arrays))  # fmt: skip


def _aggregate(*args, **kwargs) -> tuple[dict, ...]:
    """Every chunk ``aggregate_movies`` yields, merged as Kedro saves them: the partitions of
    every chunk, the digests of the last one."""
    merged: tuple[dict, ...] = tuple({} for _ in range(7))
    for chunk in aggregate_movies(*args, **kwargs):
        for target, part in zip(merged[:6], chunk[:6], strict=True):
            assert not set(target) & set(part), "a partition saved twice"
            target.update(part)
        merged = (*merged[:6], chunk[6])
    return merged


def _two_movies(tmp_path) -> tuple[pd.DataFrame, dict]:
    """Movie A (a1: 10 s at 0.2, a2: 30 s at 0.8), movie B (b1: 5 s at 0.5, b2 unreadable)."""
    cache_dir = tmp_path / "cache"
    files = {name: _touch(tmp_path / name) for name in ("a1", "a2", "b1", "b2")}
    _score(cache_dir, files["a1"], 0.2, 10)
    _score(cache_dir, files["a2"], 0.8, 30)
    _score(cache_dir, files["b1"], 0.5, 5)
    _score(cache_dir, files["b2"], 0.0, 0, error=True)
    tracks = pd.DataFrame(
        [("A", "Alpha", 1, "a1", str(files["a1"]), 1999), ("A", "Alpha", 2, "a2",
         str(files["a2"]), 1999), ("B", "Beta", 1, "b1", str(files["b1"]), 2005),
         ("B", "Beta", 2, "b2", str(files["b2"]), 2005)],
        columns=["movie_id", "title", "position", "track", "path", "year"],
    )  # fmt: skip
    return tracks, files


def test_only_changed_movies_are_re_aggregated_and_the_table_covers_the_catalogue(tmp_path):
    tracks, files = _two_movies(tmp_path)
    cache_dir = tmp_path / "cache"
    cache = TrackCache(cache_dir)
    timelines, track_vad, profiles, arcs, svgs, plots, digests = _aggregate(
        tracks, cache, CHOSEN, {}
    )
    assert set(profiles) == set(track_vad) == set(timelines) == set(arcs) == {"A", "B"}
    assert sorted(svgs) == ["A", "B"] and plots == {}  # the default: one profile per movie
    # each made as it is saved, of its own movie
    assert "Alpha (2 tracks, 0.7 min)" in svgs["A"]()
    assert "Beta (1 track, 0.1 min, 1 unreadable)" in svgs["B"]()  # b2 could not be read
    stored_profiles = dict(profiles)
    stored_tracks = dict(track_vad)
    assert stored_profiles["A"].set_index("label").loc["valence", "mean"] == pytest.approx(
        (0.2 * 10 + 0.8 * 30) / 40
    )
    assert len(timelines["A"]) == 40

    # Nothing changed: nothing to aggregate. One track of B rescored: only B.
    again = _aggregate(tracks, cache, CHOSEN, digests)
    assert not any(again[:6])
    assert again[6] == digests
    _score(cache_dir, files["b2"], 0.9, 5)
    changed = _aggregate(tracks, cache, CHOSEN, digests)
    assert set(changed[2]) == {"B"}
    stored_profiles["B"], stored_tracks["B"] = changed[2]["B"], changed[1]["B"]
    table = build_catalogue_table(
        tracks,
        {k: (lambda v=v: v) for k, v in stored_profiles.items()},
        {k: (lambda v=v: v) for k, v in stored_tracks.items()},
        CHOSEN,
        changed[6],
    )
    assert table["movie_id"].tolist() == ["A", "B"]
    assert table["year"].tolist() == [1999, 2005]
    assert table[["n_tracks", "n_scored", "n_failed"]].values.tolist() == [[2, 2, 0], [2, 2, 0]]
    assert table["n_out_of_domain"].isna().all()  # the tracks carry no such flag
    assert table.loc[1, "valence_mean"] == pytest.approx(0.7)
    assert table.loc[0, "valence_opening"] == pytest.approx(0.2)
    assert table.loc[0, "valence_closing"] == pytest.approx(0.8)
    assert table.loc[0, "valence_trend_per_hour"] > 0
    assert table["model"].iloc[0] == (
        "valence=mfcc_cnn.valence; arousal=mfcc_cnn.arousal; dominance=mfcc_cnn.dominance"
    )
    figure = plot_catalogue(table)
    assert figure.axes[0].get_xlabel().startswith("Valence")


@pytest.mark.parametrize("ids", [("A", "B"), (1917, 2001)])
def test_a_movie_read_in_a_chunk_of_many_gets_the_tables_it_would_get_alone(tmp_path, ids):
    tracks, _ = _two_movies(tmp_path)
    tracks["movie_id"] = tracks["movie_id"].map(dict(zip(("A", "B"), ids, strict=True)))
    cache = TrackCache(tmp_path / "cache")

    timelines, track_vad, *_ = _aggregate(tracks, cache, CHOSEN, {})  # both in one chunk

    assert len(timelines[ids[0]]) == 40
    for movie_id in ids:
        alone = tracks[tracks["movie_id"] == movie_id][["position", "track", "path"]]
        expected = collect_vad_timelines(alone.reset_index(drop=True), cache, CHOSEN, quiet=True)
        pd.testing.assert_frame_equal(timelines[movie_id], expected[0])
        pd.testing.assert_frame_equal(track_vad[movie_id], expected[1])


def test_plots_say_which_figures_are_drawn_and_a_change_redraws_every_movie(tmp_path):
    tracks, _ = _two_movies(tmp_path)
    cache = TrackCache(tmp_path / "cache")
    *_, no_svg, none, digests = _aggregate(tracks, cache, CHOSEN, {}, "none")
    assert no_svg == none == {}
    *_, svgs, per_track, digests = _aggregate(tracks, cache, CHOSEN, digests, "tracks")
    assert sorted(svgs) == ["A", "B"]
    assert sorted(per_track) == ["A/timelines/001_a1", "A/timelines/002_a2",
                                 "B/timelines/001_b1"]  # fmt: skip
    figure = per_track["A/timelines/002_a2"]()
    top = figure.axes[0]
    assert top.get_title().startswith("a2: overall valence 0.80")
    steps = [patch.get_data() for patch in top.patches]
    assert len(steps) == 3  # valence, arousal, dominance: a2's 30 windows, not a1's
    assert all(len(s.values) == 30 and set(s.values) == {0.8} for s in steps)
    with pytest.raises(ParameterError, match="'track' is not one of profile, tracks, none"):
        _aggregate(tracks, cache, CHOSEN, digests, "track")


def test_each_track_record_is_read_once_per_aggregation_in_chunks_of_whole_movies(
    tmp_path, monkeypatch
):
    cache_dir = tmp_path / "cache"
    rows = []
    for movie in range(6):
        for position in range(1, 5):
            path = _touch(tmp_path / f"m{movie}" / f"t{position}")
            _score(cache_dir, path, 0.1 * position, 3)
            rows.append((f"m{movie}", f"Movie {movie}", position, f"t{position}", str(path)))
    tracks = pd.DataFrame(rows, columns=["movie_id", "title", "position", "track", "path"])
    reads: list[str] = []
    real_get = TrackCache.get
    monkeypatch.setattr(
        TrackCache, "get", lambda self, key: reads.append(key) or real_get(self, key)
    )

    chunks = list(aggregate_movies(tracks, TrackCache(cache_dir), CHOSEN, {}, "tracks",
                                   chunk_tracks=8))  # fmt: skip
    assert [sorted(chunk[1]) for chunk in chunks] == [["m0", "m1"], ["m2", "m3"], ["m4", "m5"]]
    for chunk in chunks:  # drawing the plots reads no record
        for draw in (*chunk[4].values(), *chunk[5].values()):
            draw()
    assert sorted(reads) == sorted(track_cache_key(p) for p in tracks["path"])
    assert [len(chunk[6]) for chunk in chunks] == [2, 4, 6]  # digests saved chunk by chunk


@pytest.mark.parametrize(
    "movie_ids",
    [("tt001", "tt001 "), ("Face/Off", "Face Off"), ("Alien", "ALIEN")],
)
def test_two_movies_that_would_share_files_are_refused_naming_both(tmp_path, movie_ids):
    _touch(tmp_path / "a.wav")
    csv = tmp_path / "catalogue.csv"
    pd.DataFrame({"movie_id": list(movie_ids), "path": ["a.wav", "a.wav"]}).to_csv(
        csv, index=False
    )
    with pytest.raises(ParameterError, match="would share files") as caught:
        list_catalogue_tracks(str(csv), "", NO_SOUNDTRACKS)
    assert all(repr(m) in str(caught.value) for m in movie_ids)


def test_movie_folders_equal_but_for_case_are_refused(tmp_path):
    for movie in ("Alien", "ALIEN"):
        _touch(tmp_path / "vod" / movie / "a.wav")
    with pytest.raises(ParameterError, match="'ALIEN' and 'Alien'"):
        list_catalogue_tracks(str(tmp_path / "vod"), "", NO_SOUNDTRACKS)


def test_a_long_movie_id_is_cut_with_a_hash_and_stays_distinct(tmp_path):
    _touch(tmp_path / "a.wav")
    long_titles = ["千と千尋の神隠し" * 20 + " 前編", "千と千尋の神隠し" * 20 + " 後編"]
    csv = tmp_path / "catalogue.csv"
    pd.DataFrame({"movie_id": long_titles, "path": ["a.wav", "a.wav"]}).to_csv(csv, index=False)
    ids = list_catalogue_tracks(str(csv), "", NO_SOUNDTRACKS)["movie_id"].unique()
    assert len(ids) == 2
    assert all(len(i.encode()) <= 96 for i in ids)


def test_the_catalogue_wide_tables_stream_chunk_by_chunk_and_equal_the_whole(tmp_path):
    tracks, files = _two_movies(tmp_path)
    tracks = tracks.iloc[[0, 3, 1, 2]]  # b2 (unreadable) alone in the second chunk
    cache = TrackCache(tmp_path / "cache")
    datasets = [StreamedTableDataset(filepath=str(tmp_path / "out" / name), file_format=fmt)
                for name, fmt in (("t.parquet", "parquet"), ("v.parquet", "parquet"),
                                  ("w.parquet", "parquet"), ("t.csv", "csv"),
                                  ("v.csv", "csv"))]  # fmt: skip
    chunks = list(stream_vad_tables(tracks, cache, CHOSEN, chunk_tracks=1))
    assert len(chunks) == 4
    for chunk in chunks:
        for dataset, part in zip(datasets, chunk, strict=True):
            dataset.save(part)
    whole = collect_vad_timelines(tracks, cache, CHOSEN)
    for dataset, expected in zip(datasets, whole, strict=False):
        pd.testing.assert_frame_equal(dataset.load(), expected.reset_index(drop=True))
    assert len(datasets[3].load()) == len(whole[0])
    assert datasets[4].load()["status"].tolist() == ["ok", "error", "ok", "ok"]

    # A record scored with other models: refused before any chunk is written.
    _score(tmp_path / "cache", files["a2"], 0.8, 30)
    record = cache.get(track_cache_key(str(files["a2"])))
    write_record(tmp_path / "cache", CachedTrack(**{**vars(record), "fingerprint": "other"}))
    with pytest.raises(DataValidationError, match="different models or parameters"):
        next(stream_vad_tables(tracks, cache, CHOSEN))
