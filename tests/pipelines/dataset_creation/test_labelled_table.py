"""Bring your own labels: a labelled table becomes ``soundtracks`` through the project's own
catalog entry and pipeline, and everything after it runs unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from kedro.io import DataCatalog, DatasetError, MemoryDataset
from kedro.runner import SequentialRunner

from soundtrack_emotion.datasets import LabelledTableDataset
from soundtrack_emotion.exceptions import DataValidationError
from soundtrack_emotion.pipelines.dataset_creation import create_labelled_pipeline
from soundtrack_emotion.pipelines.dataset_creation.labelled_table import build_labelled_soundtracks
from soundtrack_emotion.pipelines.dataset_creation.nodes import SOUNDTRACK_COLUMNS

CONF = Path(__file__).resolve().parents[3] / "conf" / "base"
SPLIT = {"validation_fraction": 0.2, "test_fraction": 0.2, "seed": 1, "group_by": "artists"}


def _audio(folder: Path, name: str, seconds: float = 2.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * 8000)) / 8000)
    sf.write(path, tone.astype(np.float32), 8000)
    return path


def _table(tmp_path: Path, n: int = 10, **columns) -> Path:
    for i in range(n):
        _audio(tmp_path / "audio", f"clip {i}.wav")
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "track_id": [f"clip {i}" for i in range(n)],
            "audio": [f"audio/clip {i}.wav" for i in range(n)],  # relative to the table
            "artist": [f"Artist {i // 2}" for i in range(n)],
            "valence": rng.uniform(size=n),
            "arousal": rng.uniform(size=n),
            "dominance": rng.uniform(size=n),
            **columns,
        }
    )
    path = tmp_path / "labels.csv"
    table.to_csv(path, index=False)
    return path


def test_the_catalog_entry_and_pipeline_make_valid_soundtracks(tmp_path):
    table = _table(tmp_path)
    entry = yaml.safe_load((CONF / "catalog_dataset_creation.yml").read_text())["labelled_tracks"]
    assert entry["type"] == "soundtrack_emotion.datasets.LabelledTableDataset"
    catalog = DataCatalog.from_config(
        {"labelled_tracks": {**entry, "filepath": str(table)}},
    )
    catalog["params:dataset_creation.split"] = SPLIT
    for name in ("soundtracks", "dataset_report"):
        catalog[name] = MemoryDataset()
    SequentialRunner().run(create_labelled_pipeline(), catalog)
    soundtracks = catalog.load("soundtracks")
    assert catalog.load("dataset_report")["source"] == "labelled_table"
    assert list(soundtracks.columns) == list(SOUNDTRACK_COLUMNS)
    assert len(soundtracks) == 10
    assert soundtracks["id"].tolist()[0] == "clip_0"  # made file-name safe
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in soundtracks["audio_path"])
    assert (soundtracks["duration_ms"] == 2000).all()
    # grouped by artist: the two clips of an artist share a split
    assert soundtracks.groupby("artist")["split"].nunique().max() == 1
    assert catalog.load("dataset_report")["groups_spanning_splits"] == []


def test_a_given_split_column_is_respected(tmp_path):
    splits = ["train"] * 6 + ["validation"] * 2 + ["test"] * 2
    table = LabelledTableDataset(filepath=str(_table(tmp_path, split=splits))).load()
    soundtracks, report = build_labelled_soundtracks(table, SPLIT)
    assert soundtracks["split"].tolist() == splits
    assert report["split_source"] == "table"
    assert report["splits"] == {"train": 6, "validation": 2, "test": 2}


def test_missing_audio_is_dropped_with_its_reason(tmp_path):
    path = _table(tmp_path)
    (tmp_path / "audio" / "clip 3.wav").unlink()
    soundtracks, report = build_labelled_soundtracks(
        LabelledTableDataset(filepath=str(path)).load(), SPLIT
    )
    assert len(soundtracks) == 9 and "clip_3" not in set(soundtracks["id"])
    assert report["counts"] == {"rows": 10, "with_audio": 9, "kept": 9}
    assert report["dropped"][0]["id"] == "clip_3"
    assert report["dropped"][0]["reason"] == "no_audio_file"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"valence": 7.5}, "valence missing or outside \\[0, 1\\].*rescale"),
        ({"split": "holdout"}, "unknown split value\\(s\\) \\['holdout'\\]"),
        ({"track_id": "same"}, "duplicate ids"),
    ],
)
def test_table_errors_stop_the_run_with_the_reason(tmp_path, change, message):
    table = LabelledTableDataset(filepath=str(_table(tmp_path))).load()
    for column, value in change.items():
        table.loc[:, "id" if column == "track_id" else column] = value
    with pytest.raises(DataValidationError, match=message):
        build_labelled_soundtracks(table, SPLIT)


def test_the_dataset_names_what_is_wrong(tmp_path):
    with pytest.raises(DatasetError, match=r"unknown format '\.xlsx'"):
        LabelledTableDataset(filepath=str(tmp_path / "labels.xlsx"))
    with pytest.raises(DatasetError, match="point the `labelled_tracks` catalog entry"):
        LabelledTableDataset(filepath=str(tmp_path / "absent.csv")).load()
    pd.DataFrame({"valence": [0.5]}).to_csv(tmp_path / "no_audio.csv", index=False)
    with pytest.raises(DatasetError, match="has no audio column"):
        LabelledTableDataset(filepath=str(tmp_path / "no_audio.csv")).load()


def test_parquet_tables_and_absolute_paths(tmp_path):
    audio = _audio(tmp_path / "elsewhere", "x.wav")
    pd.DataFrame(
        {"path": [str(audio)], "valence": [0.2], "arousal": [0.3], "dominance": [0.4]}
    ).to_parquet(tmp_path / "t.parquet")
    table = LabelledTableDataset(filepath=str(tmp_path / "t.parquet")).load()
    assert table["id"].tolist() == ["x"]  # the file stem when no id column
    assert table["audio_path"].tolist() == [str(audio)]


@pytest.mark.parametrize("ids", [("clip 1", "clip_1"), ("Clip", "CLIP")])
def test_ids_that_would_share_files_are_refused_naming_both(tmp_path, ids):
    table = pd.read_csv(_table(tmp_path, n=2))
    table["track_id"] = list(ids)
    table.to_csv(tmp_path / "labels.csv", index=False)
    loaded = LabelledTableDataset(filepath=str(tmp_path / "labels.csv")).load()
    with pytest.raises(DataValidationError, match="would share files") as caught:
        build_labelled_soundtracks(loaded, SPLIT)
    assert all(repr(i) in str(caught.value) for i in ids)


def _quadrant_table(folder: Path, n: int = 12) -> Path:
    """A 4Q-style table: no artist, no VAD columns, a quadrant per clip."""
    for i in range(n):
        _audio(folder / "audio", f"q{i}.wav")
    table = pd.DataFrame(
        {
            "track_id": [f"q{i}" for i in range(n)],
            "audio": [f"audio/q{i}.wav" for i in range(n)],
            "quadrant": [f"Q{1 + i % 4}" for i in range(n)],
        }
    )
    path = folder / "labels.csv"
    table.to_csv(path, index=False)
    return path


def test_two_corpora_are_read_as_one_table_and_split_each_on_its_own(tmp_path):
    continuous = _table(tmp_path / "emotify", n=10)
    quadrants = _quadrant_table(tmp_path / "fourq")
    table = LabelledTableDataset(corpora={"emotify": str(continuous), "4q": str(quadrants)}).load()
    assert table.groupby("corpus").size().to_dict() == {"4q": 12, "emotify": 10}

    soundtracks, report = build_labelled_soundtracks(table, SPLIT)

    fourq = soundtracks[soundtracks["corpus"] == "4q"]
    assert fourq["quadrant"].tolist() == [f"Q{1 + i % 4}" for i in range(12)]
    assert fourq[["valence", "arousal", "dominance"]].isna().all().all()
    emotify = soundtracks[soundtracks["corpus"] == "emotify"]
    assert (emotify["quadrant"] == "").all() and emotify["valence"].notna().all()
    # Each corpus has its own training, validation and test songs.
    for rows in (fourq, emotify):
        assert set(rows["split"]) == {"train", "validation", "test"}
    assert report["corpora"]["4q"]["labelled_by"] == "quadrant"
    assert report["corpora"]["emotify"]["labelled_by"] == "vad"
    assert "4q: track" in report["split_source"] and "emotify: artists" in report["split_source"]


def test_one_corpus_is_split_as_before_corpora_existed(tmp_path):
    table = LabelledTableDataset(filepath=str(_table(tmp_path, n=20))).load()
    soundtracks, _ = build_labelled_soundtracks(table, SPLIT)
    assert (soundtracks["corpus"] == tmp_path.name).all()
    # The assignment of a single corpus depends on its rows only, not on the corpus name.
    renamed, _ = build_labelled_soundtracks(table.assign(corpus="other"), SPLIT)
    assert renamed["split"].tolist() == soundtracks["split"].tolist()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"quadrant": "Q7"}, "unknown quadrant"),
        ({"quadrant": ""}, "valence missing"),
        ({"quadrant": "Q1", "valence": 0.5}, "arousal missing"),  # partly labelled
    ],
)
def test_a_row_needs_all_three_vad_values_or_a_quadrant(tmp_path, change, problem):
    table = LabelledTableDataset(filepath=str(_quadrant_table(tmp_path))).load()
    for column, value in change.items():
        table.loc[0, column] = value
    with pytest.raises(DataValidationError, match=problem):
        build_labelled_soundtracks(table, SPLIT)


def test_the_dataset_wants_one_table_or_named_corpora(tmp_path):
    with pytest.raises(DatasetError, match="either `filepath`"):
        LabelledTableDataset()
    with pytest.raises(DatasetError, match="either `filepath`"):
        LabelledTableDataset(filepath="a.csv", corpora={"b": "b.csv"})
    with pytest.raises(DatasetError, match="unknown format"):
        LabelledTableDataset(corpora={"b": "b.txt"})


def test_a_corpus_with_its_own_split_keeps_it_beside_one_split_by_default(tmp_path):
    continuous = _table(tmp_path / "emotify", n=10)
    held_out = _quadrant_table(tmp_path / "fourq")
    frame = pd.read_csv(held_out).assign(split="test")  # scored only, never trained on
    frame.to_csv(held_out, index=False)
    table = LabelledTableDataset(corpora={"emotify": str(continuous), "4q": str(held_out)}).load()
    soundtracks, report = build_labelled_soundtracks(table, SPLIT)
    assert set(soundtracks.loc[soundtracks["corpus"] == "4q", "split"]) == {"test"}
    emotify = soundtracks[soundtracks["corpus"] == "emotify"]
    assert set(emotify["split"]) == {"train", "validation", "test"}
    assert "4q: table" in report["split_source"]
    frame.loc[0, "split"] = None
    frame.to_csv(held_out, index=False)
    partial = LabelledTableDataset(corpora={"emotify": str(continuous), "4q": str(held_out)})
    with pytest.raises(DataValidationError, match="empty cells in corpus"):
        build_labelled_soundtracks(partial.load(), SPLIT)
