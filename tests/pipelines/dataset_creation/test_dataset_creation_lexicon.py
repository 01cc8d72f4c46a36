"""VadLexiconDataset: every supported format, rescaling, and clear errors for bad files."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io import DatasetError

from soundtrack_emotion.datasets import VadLexiconDataset, parse_vad_lexicon
from soundtrack_emotion.exceptions import LexiconFormatError
from soundtrack_emotion.pipelines.dataset_creation.nodes import build_vad_lexicon

# Invented scores (not from any published lexicon).
NRC_V1 = (
    "Word\tValence\tArousal\tDominance\nglad\t0.900\t0.600\t0.700\ngloom\t0.100\t0.200\t0.300\n"
)
NRC_V2 = "term\tvalence\tarousal\tdominance\nfeel good\t0.8\t-0.2\t0\ndread\t-1\t0.5\t1\n"
WARRINER = (
    ",Word,V.Mean.Sum,V.SD.Sum,V.Rat.Sum,A.Mean.Sum,A.SD.Sum,A.Rat.Sum,D.Mean.Sum,D.SD.Sum,"
    "D.Rat.Sum\n"
    "1,aardwolf,6.2,2.2,19,2.6,1.4,22,4.2,1.7,15\n"
    "2,abandon,1,1.1,20,9,2.2,21,5,1.9,22\n"
)


def _load(tmp_path, text: str, fmt: str, name: str = "lexicon.txt") -> pd.DataFrame:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return VadLexiconDataset(filepath=str(path), format=fmt).load()


def _scores(table: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    return {w: (v, a, d) for w, v, a, d in table.itertuples(index=False)}


def test_nrc_v1_is_read_as_is(tmp_path):
    table = _load(tmp_path, NRC_V1, "nrc_vad_v1")
    assert list(table.columns) == ["word", "valence", "arousal", "dominance"]
    assert _scores(table) == {"glad": (0.9, 0.6, 0.7), "gloom": (0.1, 0.2, 0.3)}
    assert table["valence"].dtype == "float64"


def test_nrc_v2_is_rescaled_from_minus_one_to_one(tmp_path):
    table = _load(tmp_path, NRC_V2, "nrc_vad_v2")
    # (x + 1) / 2
    assert _scores(table) == pytest.approx(
        {"feel good": (0.9, 0.4, 0.5), "dread": (0.0, 0.75, 1.0)}
    )


def test_warriner_is_rescaled_from_one_to_nine(tmp_path):
    table = _load(tmp_path, WARRINER, "warriner", "warriner.csv")
    # (x - 1) / 8: 6.2 -> 0.65, 2.6 -> 0.2, 4.2 -> 0.4; 1 -> 0, 9 -> 1, 5 -> 0.5
    assert _scores(table) == pytest.approx(
        {"aardwolf": (0.65, 0.2, 0.4), "abandon": (0.0, 1.0, 0.5)}
    )


def test_byte_order_mark_and_blank_lines_are_tolerated(tmp_path):
    table = _load(tmp_path, "\ufeff" + NRC_V1 + "\n\n", "nrc_vad_v1")
    assert table["word"].tolist() == ["glad", "gloom"]


def test_missing_file_names_path_and_format(tmp_path):
    missing = tmp_path / "NRC-VAD-Lexicon.txt"
    with pytest.raises(DatasetError) as info:
        VadLexiconDataset(filepath=str(missing), format="nrc_vad_v1").load()
    assert isinstance(info.value.__cause__, LexiconFormatError)
    assert str(missing) in str(info.value) and "nrc_vad_v1" in str(info.value)


@pytest.mark.parametrize(
    ("text", "fmt", "problem"),
    [
        ("", "nrc_vad_v1", "empty"),
        ("Word\tValence\tArousal\tDominance\n", "nrc_vad_v1", "no entries"),
        (WARRINER, "nrc_vad_v1", "header"),
        (NRC_V1, "warriner", "header"),
        ("Word\tValence\tArousal\nglad\t0.9\t0.6\n", "nrc_vad_v1", "dominance"),
        (NRC_V1 + "odd\t0.5\thigh\t0.5\n", "nrc_vad_v1", "line 4 .*non-numeric"),
        (NRC_V1 + "short\t0.5\n", "nrc_vad_v1", "line 4 has 2 fields"),
        (NRC_V1 + "big\t1.5\t0.5\t0.5\n", "nrc_vad_v1", r"valence 1.5, outside \[0, 1\]"),
        (NRC_V2, "nrc_vad_v1", "header"),  # a v2.1 file configured as v1
        (NRC_V1 + "neg\t-0.5\t0\t0\n", "nrc_vad_v1", r"valence -0.5, outside \[0, 1\]"),
        (NRC_V2 + "neg\t-1.5\t0\t0\n", "nrc_vad_v2", r"valence -1.5, outside \[-1, 1\]"),
        (WARRINER + "3,zero,0,1,1,5,1,1,5,1,1\n", "warriner", r"valence 0.0, outside \[1, 9\]"),
        (NRC_V1 + "\t0.5\t0.5\t0.5\n", "nrc_vad_v1", "empty word"),
    ],
)
def test_malformed_files_raise_lexicon_format_error(tmp_path, text, fmt, problem):
    path = tmp_path / "lexicon.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError, match=problem) as info:
        VadLexiconDataset(filepath=str(path), format=fmt).load()
    assert isinstance(info.value.__cause__, LexiconFormatError)
    assert str(path) in str(info.value) and f"valid {fmt} lexicon" in str(info.value)


def test_non_utf8_file_is_a_format_error(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(NRC_V1.replace("glad", "gläd").encode("latin-1"))
    with pytest.raises(DatasetError, match="not utf-8 text"):
        VadLexiconDataset(filepath=str(path), format="nrc_vad_v1").load()


def test_unknown_format_is_refused_at_construction(tmp_path):
    with pytest.raises(LexiconFormatError, match=r"unknown lexicon format 'anew'.*nrc_vad_v1"):
        VadLexiconDataset(filepath=str(tmp_path / "x.txt"), format="anew")


def test_dataset_is_read_only_and_reports_existence(tmp_path):
    path = tmp_path / "lexicon.txt"
    dataset = VadLexiconDataset(filepath=str(path), format="nrc_vad_v1")
    assert not dataset.exists()
    path.write_text(NRC_V1, encoding="utf-8")
    assert dataset.exists()
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save(pd.DataFrame())


def test_build_vad_lexicon_normalises_words_and_keeps_the_first_duplicate():
    source = parse_vad_lexicon(
        "Word\tValence\tArousal\tDominance\nFeel-Good\t0.9\t0.6\t0.5\n"
        "feel good\t0.1\t0.1\t0.1\n Calm \t0.8\t0.1\t0.4\n",
        fmt="nrc_vad_v1",
    )
    lexicon = build_vad_lexicon(source)
    assert lexicon["word"].tolist() == ["feel good", "calm"]
    assert lexicon.loc[0, "valence"] == pytest.approx(0.9)


def test_affect_word_lists_read_plain_and_emolex(tmp_path):
    from soundtrack_emotion.datasets import AffectWordListDataset

    plain = tmp_path / "words.txt"
    plain.write_text("# mine\notherworldly\nsoulful  # a comment\n\n", encoding="utf-8")
    assert AffectWordListDataset(filepath=plain).load() == ["otherworldly", "soulful"]
    emolex = tmp_path / "emolex.txt"
    emolex.write_text(
        "abandon\tfear\t1\nabandon\tpositive\t0\nabacus\ttrust\t0\nbaby\tpositive\t1\n"
        "zest\tjoy\t1\n",
        encoding="utf-8",
    )
    assert AffectWordListDataset(filepath=emolex, format="nrc_emolex").load() == [
        "abandon",
        "zest",
    ]
    assert AffectWordListDataset().load() == []
    with pytest.raises(DatasetError, match="not found") as info:
        AffectWordListDataset(filepath=tmp_path / "none.txt").load()
    assert isinstance(info.value.__cause__, LexiconFormatError)
    with pytest.raises(DatasetError, match="line 1"):
        AffectWordListDataset(filepath=plain, format="nrc_emolex").load()
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("r\xeaveur\n".encode("latin-1"))  # not UTF-8: a reason, not a traceback
    with pytest.raises(DatasetError, match=r"latin1\.txt is not utf-8 text"):
        AffectWordListDataset(filepath=latin).load()
