"""The search pipeline run through Kedro's runner on catalogued inputs (the project's catalog
under a temporary root), and how it reads ``search.queries``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.runner import SequentialRunner

from soundtrack_emotion.core.mood_search import PROVENANCE_COLUMNS, resolve_mood
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.demo.lexicon import MOOD_WORDS
from soundtrack_emotion.exceptions import ParameterError
from soundtrack_emotion.pipelines.search import create_pipeline
from soundtrack_emotion.pipelines.search.nodes import parse_query, run_search_queries

PROJECT = Path(__file__).resolve().parents[3]
INPUTS = ("catalogue_table", "track_vad", "vad_lexicon")
OUTPUTS = ("search_results", "search_queries", "similar_movies")


def _parameters() -> dict:
    config = OmegaConfigLoader(str(PROJECT / "conf"), base_env="base", default_run_env="base")
    return config["parameters"]["search"]


def test_the_search_pipeline_answers_the_queries_from_catalogued_inputs(
    tmp_path, project_catalog, planted_catalogue
):
    catalog = project_catalog(tmp_path, (*INPUTS, *OUTPUTS))
    catalog.save("catalogue_table", planted_catalogue.catalogue)
    catalog.save("track_vad", planted_catalogue.track_vad)
    catalog.save("vad_lexicon", planted_catalogue.lexicon)
    search = {
        **_parameters(),
        "k": 2,
        "queries": [
            {"like": "dark_tense_1"},
            {"mood": "sad but calm", "find": "movies", "k": 3},
            {"valence": 0.9, "arousal": 0.8, "name": "bright"},
            {"mood": "sda"},  # not in the lexicon: reported, the others still answered
        ],
    }
    for key in ("queries", "k", "profile_weights"):
        catalog[f"params:search.{key}"] = search[key]

    SequentialRunner().run(create_pipeline(), catalog)

    folder = tmp_path / "data/08_reporting/search"
    assert sorted(p.name for p in folder.iterdir()) == [
        "queries.csv", "results.csv", "similar_movies.csv",
    ]  # fmt: skip
    results = pd.read_csv(folder / "results.csv", dtype={"movie_id": str})
    like = results[results["query"] == 1]
    assert like["movie_id"].iloc[0] == "dark_tense_2" and like["rank"].tolist() == [1, 2]
    assert like["query_valence"].iloc[0] == pytest.approx(0.15)  # the movie's own mood
    sad = results[results["query"] == 2]
    assert (sad["find"] == "movies").all() and len(sad) == 3
    assert set(sad["movie_id"][:2]) == {"sad_calm_1", "sad_calm_2"}
    bright = results[results["query"] == 3]
    assert bright["name"].iloc[0] == "bright"
    assert bright.groupby("find").size().to_dict() == {"movies": 2, "tracks": 2}
    assert bright["track"].dropna().iloc[0] == "happy_lively 2"
    assert bright["query_dominance"].isna().all()  # not asked
    assert set(PROVENANCE_COLUMNS) <= set(results.columns)
    assert results[list(VAD_LABELS)].notna().all().all()

    queries = pd.read_csv(folder / "queries.csv", keep_default_na=False)
    assert queries["kind"].tolist() == ["like", "mood", "vad", "mood"]
    assert queries["query_words"].tolist()[1] == "sad calm"
    assert queries["n_results"].tolist() == [2, 3, 4, 0]
    assert "did you mean sad" in queries["error"].iloc[3]

    similar = pd.read_csv(folder / "similar_movies.csv", dtype={"movie_id": str})
    assert similar.groupby("movie_id").size().eq(2).all()
    nearest = similar[similar["rank"] == 1].set_index("movie_id")["similar_id"]
    assert nearest["sad_calm_1"] == "sad_calm_2"


def test_the_default_queries_read_with_the_demo_lexicon():
    """`kedro run` (the demo) answers the configured queries: their words are demo words."""
    lexicon = pd.DataFrame(
        [(word, *vad) for word, vad in MOOD_WORDS.items()], columns=["word", *VAD_LABELS]
    )
    parameters = _parameters()
    for spec in parameters["queries"]:
        query = parse_query(spec, default_k=parameters["k"])
        if query.mood is not None:
            resolve_mood(query.mood, lexicon)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"like": "x", "mood": "sad"}, "exactly one of"),
        ({"like": "x", "valence": 0.2}, "exactly one of"),
        ({"k": 3}, "exactly one of"),
        ({"mood": "sad", "limit": 3}, "unknown keys \\['limit'\\]"),
        ({"mood": "sad", "find": "albums"}, "find must be"),
        ({"like": "x", "find": "tracks"}, "like finds movies only"),
        ({"mood": "sad", "k": 0}, "k must be"),
        ("sad", "must be a mapping"),
    ],
)
def test_a_malformed_query_stops_the_run_with_the_reason(spec, problem):
    with pytest.raises(ParameterError, match=problem):
        parse_query(spec, default_k=5)


def test_a_worded_query_may_pin_labels():
    query = parse_query({"mood": "calm", "valence": 0.15}, default_k=5)
    assert (query.kind, query.name, query.pinned) == (
        "mood",
        "calm, valence=0.15",
        {"valence": 0.15},
    )


def test_no_queries_give_empty_tables_with_their_columns(planted_catalogue):
    results, queries = run_search_queries(
        planted_catalogue.catalogue,
        planted_catalogue.track_vad,
        planted_catalogue.lexicon,
        queries=[],
        k=5,
        profile_weights=_parameters()["profile_weights"],
    )
    assert results.empty and queries.empty
    assert {"query", "rank", "distance", "movie_id", *VAD_LABELS} <= set(results.columns)


def test_search_runs_after_inference_and_reads_the_labels_lexicon():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {
        *INPUTS, "params:search.queries", "params:search.k", "params:search.profile_weights",
    }  # fmt: skip
    assert pipeline.all_outputs() == set(OUTPUTS)
    assert all("search" in node.tags for node in pipeline.nodes)
