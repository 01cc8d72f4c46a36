"""The notebook API and the command line of mood search, over catalogued outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from soundtrack_emotion import search
from soundtrack_emotion.core.mood_search import PROVENANCE_COLUMNS
from soundtrack_emotion.exceptions import ParameterError

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data(planted_catalogue):
    return search.SearchData(
        planted_catalogue.catalogue, planted_catalogue.track_vad, planted_catalogue.lexicon
    )


def test_similar_mood_and_tracks_return_ranked_rows_with_their_provenance(data):
    like = search.similar("dark_tense_1", k=1, data=data)
    assert like["movie_id"].tolist() == ["dark_tense_2"]
    calm = search.mood("sad but calm", k=2, data=data)
    assert set(calm["movie_id"]) == {"sad_calm_1", "sad_calm_2"}
    lively = search.mood(valence=0.9, arousal=0.8, k=1, data=data)
    assert lively["movie_id"].tolist() == ["happy_lively"]
    tracks = search.tracks({"valence": 0.9, "arousal": 0.8}, k=3, data=data)
    assert tracks["track"].iloc[0] == "happy_lively 2"
    for hits in (like, calm, lively, tracks):
        assert list(hits.columns[:2]) == ["rank", "distance"]
        assert set(PROVENANCE_COLUMNS) <= set(hits.columns)


def test_values_pin_labels_over_the_words(data):
    calm = search.mood("calm", k=1, data=data)
    assert calm["movie_id"].tolist() == ["happy_calm"]  # calm is pleasant in the lexicon
    unhappy_calm = search.mood("calm", valence=0.15, k=2, data=data)
    assert set(unhappy_calm["movie_id"]) == {"sad_calm_1", "sad_calm_2"}
    with pytest.raises(ParameterError, match="give a mood"):
        search.mood(data=data)


def test_words_without_a_lexicon_say_how_to_get_one(data):
    no_lexicon = search.SearchData(data.catalogue, data.track_vad, None)
    with pytest.raises(ParameterError, match=r"no vad_lexicon.*dataset_creation"):
        search.mood("sad", data=no_lexicon)
    assert len(search.mood({"valence": 0.1}, k=2, data=no_lexicon)) == 2


def test_search_data_from_the_files_the_pipelines_write(tmp_path, data):
    data.catalogue.assign(movie_id=data.catalogue["movie_id"].str.replace("_", "")).to_csv(
        tmp_path / "catalogue.csv", index=False
    )
    data.lexicon.to_parquet(tmp_path / "vad_lexicon.parquet")
    loaded = search.SearchData.from_files(
        tmp_path / "catalogue.csv", lexicon=tmp_path / "vad_lexicon.parquet"
    )
    assert search.similar("sadcalm1", k=1, data=loaded)["movie_id"].tolist() == ["sadcalm2"]
    with pytest.raises(ParameterError, match="no track_vad"):
        search.tracks("sad", data=loaded)
    with pytest.raises(ParameterError, match="does not exist"):
        search.SearchData.from_files(tmp_path / "missing.csv")


def _project_copy(root: Path) -> Path:
    """A Kedro project at ``root``: this project's configuration, no data yet (its package
    is the installed one)."""
    shutil.copy(PROJECT / "pyproject.toml", root / "pyproject.toml")
    (root / "src").mkdir()
    shutil.copytree(PROJECT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    return root


def test_the_api_reads_the_projects_catalogued_outputs(
    tmp_path, project_catalog, planted_catalogue
):
    root = _project_copy(tmp_path)
    with pytest.raises(ParameterError, match="run kedro run --pipelines=inference"):
        search.load(root)
    catalog = project_catalog(root, ("catalogue_table", "track_vad", "vad_lexicon"))
    catalog.save("catalogue_table", planted_catalogue.catalogue)
    catalog.save("track_vad", planted_catalogue.track_vad)
    catalog.save("vad_lexicon", planted_catalogue.lexicon)

    hits = search.mood("tense and dark", k=2, project=root)

    assert set(hits["movie_id"]) == {"dark_tense_1", "dark_tense_2"}
    assert hits["demo_model"].all()


def test_the_command_line_prints_a_table(tmp_path, data, capsys):
    data.catalogue.to_csv(tmp_path / "catalogue.csv", index=False)
    data.track_vad.to_parquet(tmp_path / "track_vad.parquet")
    data.lexicon.to_parquet(tmp_path / "lexicon.parquet")
    files = ["--catalogue", str(tmp_path / "catalogue.csv"),
             "--track-vad", str(tmp_path / "track_vad.parquet"),
             "--lexicon", str(tmp_path / "lexicon.parquet")]  # fmt: skip

    assert search.main(["mood", "sad", "but", "calm", "--k", "2", *files]) == 0
    out = capsys.readouterr().out
    assert "Movies nearest to valence 0.45, arousal 0.20, dominance 0.35 (from sad, calm)" in out
    assert "sad_calm_1" in out and "dark_tense_1" not in out
    assert "DEMO model" in out and "trained_on: demo 0123abcd" in out

    assert search.main(["vad", "0.9", "0.8", "--tracks", "--k", "1", *files]) == 0
    out = capsys.readouterr().out
    assert "Tracks nearest to valence 0.90, arousal 0.80:" in out and "happy_lively 2" in out

    assert search.main(["mood", "calm", "--valence", "0.15", "--k", "1", *files]) == 0
    out = capsys.readouterr().out
    assert "valence 0.15, arousal 0.10, dominance 0.50 (from calm)" in out and "sad_calm" in out

    assert search.main(["like", "Night Pursuit", "--k", "1", *files]) == 0
    assert "dark_tense_2" in capsys.readouterr().out


def test_the_command_line_prints_counts_as_whole_numbers(tmp_path, data, capsys):
    catalogue = data.catalogue.assign(n_out_of_domain=3)
    catalogue.loc[catalogue.index[0], "n_out_of_domain"] = None  # reads back as a float column
    catalogue.to_csv(tmp_path / "catalogue.csv", index=False)
    assert search.main(["vad", "0.5", "0.5", "--k", "40",
                        "--catalogue", str(tmp_path / "catalogue.csv")]) == 0  # fmt: skip
    table = capsys.readouterr().out.splitlines()
    header = next(line for line in table if "n_out_of_domain" in line)
    rows = table[table.index(header) + 1 :]
    counts = [row.split()[-1] for row in rows[: next(i for i, row in enumerate(rows)
                                                      if row.startswith("scored by"))]]  # fmt: skip
    assert set(counts) == {"3", "<NA>"}, counts


def test_the_command_line_names_a_bad_query_without_a_traceback(tmp_path, data, capsys):
    data.catalogue.to_csv(tmp_path / "catalogue.csv", index=False)
    files = ["--catalogue", str(tmp_path / "catalogue.csv")]
    assert search.main(["like", "dark_tense_9", *files]) == 2
    assert "no movie 'dark_tense_9'" in capsys.readouterr().err
    assert search.main(["vad", "0.1", "0.2", "0.3", "0.4", *files]) == 2
    assert "at most 3 values" in capsys.readouterr().err
    assert search.main(["mood", "sad", *files]) == 2
    assert "no vad_lexicon" in capsys.readouterr().err
