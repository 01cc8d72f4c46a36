"""A table saved chunk by chunk: the same table as saved whole, published only when complete."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from soundtrack_emotion.datasets import StreamedTableDataset, TableChunk

TABLE = pd.DataFrame(
    {
        "track": ["a", "b", "c", "d", "e"],
        "value": [0.1, np.nan, 0.3, 0.4, np.nan],
        "flag": pd.array([True, None, False, None, None], dtype="boolean"),
        "n": np.arange(5, dtype=np.int64),
    }
)


def _chunks(table: pd.DataFrame, bounds: list[int]) -> list[TableChunk]:
    edges = [0, *bounds, len(table)]
    return [
        TableChunk(table.iloc[a:b], first=i == 0, last=i == len(edges) - 2)
        for i, (a, b) in enumerate(pairwise(edges))
    ]


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_chunks_make_the_table_saved_whole_and_it_appears_only_when_complete(tmp_path, file_format):
    whole = StreamedTableDataset(filepath=str(tmp_path / f"whole.{file_format}"),
                                 file_format=file_format)  # fmt: skip
    whole.save(TABLE)
    path = tmp_path / f"chunked.{file_format}"
    chunked = StreamedTableDataset(filepath=str(path), file_format=file_format)
    chunked.save(TABLE.iloc[:1])  # an earlier run's table
    # an empty chunk in the middle; a chunk's columns in another order
    chunks = _chunks(TABLE, [2, 2, 4])
    chunks[2] = TableChunk(chunks[2].frame[["n", "flag", "value", "track"]], False, False)
    for chunk in chunks[:-1]:
        chunked.save(chunk)
        assert len(chunked.load()) == 1  # readers see the earlier table until the last chunk
    chunked.save(chunks[-1])
    pd.testing.assert_frame_equal(chunked.load(), whole.load())
    if file_format == "parquet":
        pd.testing.assert_frame_equal(chunked.load(), TABLE)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"whole.{file_format}", path.name]
    )  # no temporary file left


def test_a_run_that_dies_mid_table_leaves_the_earlier_table_and_the_next_run_sweeps(tmp_path):
    path = tmp_path / "t.parquet"
    StreamedTableDataset(filepath=str(path)).save(TABLE.iloc[:2])
    dying = StreamedTableDataset(filepath=str(path))
    dying.save(_chunks(TABLE, [3])[0])
    assert len([p for p in tmp_path.iterdir() if p.name.startswith(".")]) == 1
    del dying  # killed before its last chunk
    assert len(pd.read_parquet(path)) == 2

    again = StreamedTableDataset(filepath=str(path))
    for chunk in _chunks(TABLE, [3]):
        again.save(chunk)
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
    assert len(again.load()) == 5


def test_chunks_that_do_not_fit_the_table_are_refused_naming_the_columns(tmp_path):
    dataset = StreamedTableDataset(filepath=str(tmp_path / "t.parquet"))
    dataset.save(TableChunk(TABLE.iloc[:2], first=True, last=False))
    with pytest.raises(DatasetError, match=r"columns .*'extra'"):
        dataset.save(TableChunk(TABLE.iloc[2:].assign(extra=1), first=False, last=True))
    with pytest.raises(DatasetError, match="before the table's first chunk"):
        dataset.save(TableChunk(TABLE.iloc[2:], first=False, last=True))
    dataset.save(TableChunk(TABLE.iloc[:2], first=True, last=False))
    with pytest.raises(DatasetError, match="column types"):
        dataset.save(TableChunk(TABLE.iloc[2:].assign(n="x"), first=False, last=True))
    assert not list(tmp_path.iterdir())  # nothing published, no temporary file left
    with pytest.raises(DatasetError, match="file_format 'xlsx'"):
        StreamedTableDataset(filepath="t.xlsx", file_format="xlsx")


def test_tables_in_one_folder_are_written_side_by_side(tmp_path):
    tables = [StreamedTableDataset(filepath=str(tmp_path / name), file_format=name.split(".")[1])
              for name in ("a.parquet", "b.parquet", "a.csv")]  # fmt: skip
    for chunk in _chunks(TABLE, [2]):  # interleaved, as Kedro saves a generator node's outputs
        for table in tables:
            table.save(chunk)
    for table in tables:
        assert table.load()["track"].tolist() == TABLE["track"].tolist()
