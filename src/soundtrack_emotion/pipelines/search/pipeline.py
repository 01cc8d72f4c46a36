"""Search pipeline: the scored catalogue -> answers to the configured queries and every
movie's nearest movies.

    kedro run --pipelines=search            # after inference (and dataset_creation's lexicon)

    catalogue_table, track_vad, vad_lexicon -> run_search_queries -> search_results, search_queries
    catalogue_table -> find_similar_movies -> similar_movies

Mood words are read through ``vad_lexicon``, the lexicon the labels were made with.
"""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Node, Pipeline

from soundtrack_emotion.pipelines.search.nodes import find_similar_movies, run_search_queries


def create_pipeline(**kwargs: Any) -> Pipeline:
    return Pipeline(
        [
            Node(
                run_search_queries,
                inputs={
                    "catalogue_table": "catalogue_table",
                    "track_vad": "track_vad",
                    "vad_lexicon": "vad_lexicon",
                    "queries": "params:search.queries",
                    "k": "params:search.k",
                    "profile_weights": "params:search.profile_weights",
                },
                outputs=["search_results", "search_queries"],
                name="run_search_queries",
            ),
            Node(
                find_similar_movies,
                inputs=["catalogue_table", "params:search.k", "params:search.profile_weights"],
                outputs="similar_movies",
                name="find_similar_movies",
            ),
        ],
        tags=["search"],
    )
