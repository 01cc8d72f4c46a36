"""Mood search for notebooks and the command line, over the current project's scored catalogue.

::

    from soundtrack_emotion import search

    search.similar("interstellar", k=5)               # movies that feel like this one
    search.mood("melancholic but calm", k=5)          # movies nearest to a mood (words)
    search.mood(valence=0.2, arousal=0.3)             # ... or to values (any of V, A, D)
    search.mood("calm", valence=0.2)                  # words, with a label pinned
    search.tracks("tense and dark", k=10)             # tracks instead of movies

Each returns the hits' rows (the catalogue table's for movies, ``track_vad``'s for tracks,
with the model that scored them) with ``rank`` and ``distance`` in front. The data are the
catalogued outputs of the Kedro project found from the working directory (``project=`` another
root, ``env=`` a configuration environment), or ``data=`` a :class:`SearchData` read from files
(:meth:`SearchData.from_files`). The same from a shell::

    soundtrack-search like interstellar --k 5
    soundtrack-search mood "melancholic but calm"
    soundtrack-search mood calm --valence 0.2
    soundtrack-search vad 0.2 0.3 --tracks

The search itself: :mod:`soundtrack_emotion.core.mood_search`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from soundtrack_emotion.core.mood_search import (
    PROFILE_WEIGHTS,
    PROVENANCE_COLUMNS,
    Mood,
    movies_for_mood,
    resolve_mood,
    similar_movies,
    tracks_for_mood,
)
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.exceptions import ParameterError, SoundtrackEmotionError
from soundtrack_emotion.runtime.console import install_console_filter

__all__ = ["SearchData", "load", "mood", "similar", "tracks"]

CATALOGUE = "catalogue_table"
TRACK_VAD = "track_vad"
LEXICON = "vad_lexicon"
# Columns the command line prints, when present.
MOVIE_COLUMNS = ("rank", "distance", "movie_id", "title",
                 *(f"{label}_{stat}" for label in VAD_LABELS for stat in ("mean", "std")),
                 "n_out_of_domain")  # fmt: skip
# Columns of whole numbers among them.
COUNT_COLUMNS = frozenset({"rank", "position", "n_out_of_domain"})
TRACK_COLUMNS = ("rank", "distance", "movie_id", "position", "track", *VAD_LABELS,
                 "out_of_domain")  # fmt: skip


@dataclass(frozen=True)
class SearchData:
    """What a search reads: the catalogue table, ``track_vad`` (None: no track search) and the
    VAD lexicon (None: only values, not words, can be searched)."""

    catalogue: pd.DataFrame
    track_vad: pd.DataFrame | None
    lexicon: pd.DataFrame | None

    @classmethod
    def from_files(
        cls,
        catalogue: str | Path,
        track_vad: str | Path | None = None,
        lexicon: str | Path | None = None,
    ) -> SearchData:
        """From ``catalogue.csv``, ``track_vad`` (.parquet or .csv) and a ``word, valence,
        arousal, dominance`` lexicon table (.parquet or .csv), as the inference and
        dataset_creation pipelines write them."""
        return cls(
            _read_table(catalogue),
            _read_table(track_vad) if track_vad else None,
            _read_table(lexicon) if lexicon else None,
        )


def _read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise ParameterError(f"{path} does not exist")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"movie_id": str})


def load(project: str | Path | None = None, *, env: str | None = None) -> SearchData:
    """The catalogued search inputs of the Kedro project at ``project`` (default: the one
    holding the working directory), read through its catalog configuration (``env``: e.g.
    ``demo``; default, as for ``kedro run``, ``local`` over ``base``). Only the three entries
    are read: no session, so no hook runs and no MLflow store is opened."""
    from kedro.framework.project import settings
    from kedro.framework.startup import bootstrap_project
    from kedro.utils import find_kedro_project

    start = Path(project or Path.cwd()).resolve()
    root = find_kedro_project(start)
    if root is None:
        raise ParameterError(f"{start} is not inside a Kedro project: pass project=<its root>")
    bootstrap_project(root)
    install_console_filter()  # the project's console: no line per dataset loaded
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(root / settings.CONF_SOURCE), env=env, **settings.CONFIG_LOADER_ARGS
    )
    entries = {name: _absolute(loader["catalog"][name], root)
               for name in (CATALOGUE, TRACK_VAD, LEXICON)}  # fmt: skip
    catalog = settings.DATA_CATALOG_CLASS.from_config(entries)
    if not catalog.exists(CATALOGUE):
        raise ParameterError(
            f"{root} has no {CATALOGUE} yet: run kedro run --pipelines=inference first"
        )
    return SearchData(
        catalog.load(CATALOGUE),
        catalog.load(TRACK_VAD) if catalog.exists(TRACK_VAD) else None,
        catalog.load(LEXICON) if catalog.exists(LEXICON) else None,
    )


def _absolute(entry: Mapping[str, object], root: Path) -> dict[str, object]:
    """A catalog entry with a relative ``filepath`` taken from the project root, as a Kedro
    session does."""
    entry = dict(entry)
    filepath = entry.get("filepath")
    if isinstance(filepath, str) and "://" not in filepath and not Path(filepath).is_absolute():
        entry["filepath"] = str(root / filepath)
    return entry


def _data(data: SearchData | None, project: str | Path | None, env: str | None) -> SearchData:
    return data if data is not None else load(project, env=env)


def _mood(
    query: str | Mapping[str, float] | Mood | None,
    values: Mapping[str, float | None],
    lexicon: pd.DataFrame | None,
) -> Mood:
    given = {label: value for label, value in values.items() if value is not None}
    if query is None:
        if not given:
            raise ParameterError("give a mood: words, a mapping, or valence=/arousal=/dominance=")
        return resolve_mood(given)
    if isinstance(query, str) and lexicon is None:
        raise ParameterError(
            f"mood {query!r} is words but the project has no vad_lexicon: run "
            "kedro run --pipelines=dataset_creation, or search by values"
        )
    return resolve_mood(query, lexicon, values=given)


def similar(
    movie: str,
    k: int = 5,
    *,
    weights: Mapping[str, float] = PROFILE_WEIGHTS,
    project: str | Path | None = None,
    env: str | None = None,
    data: SearchData | None = None,
) -> pd.DataFrame:
    """The ``k`` movies most like ``movie`` (a ``movie_id``, or a title naming one movie)."""
    return similar_movies(_data(data, project, env).catalogue, movie, k, weights=weights)


def mood(
    query: str | Mapping[str, float] | None = None,
    k: int = 5,
    *,
    valence: float | None = None,
    arousal: float | None = None,
    dominance: float | None = None,
    project: str | Path | None = None,
    env: str | None = None,
    data: SearchData | None = None,
) -> pd.DataFrame:
    """The ``k`` movies nearest to a mood: words (``"melancholic but calm"``), values, or
    both (the values pin their labels: ``mood("calm", valence=0.2)``)."""
    loaded = _data(data, project, env)
    values = {"valence": valence, "arousal": arousal, "dominance": dominance}
    return movies_for_mood(loaded.catalogue, _mood(query, values, loaded.lexicon), k)


def tracks(
    query: str | Mapping[str, float] | None = None,
    k: int = 5,
    *,
    valence: float | None = None,
    arousal: float | None = None,
    dominance: float | None = None,
    project: str | Path | None = None,
    env: str | None = None,
    data: SearchData | None = None,
) -> pd.DataFrame:
    """The ``k`` tracks nearest to a mood: words or values, as for :func:`mood`."""
    loaded = _data(data, project, env)
    if loaded.track_vad is None:
        raise ParameterError("no track_vad to search: run kedro run --pipelines=inference")
    values = {"valence": valence, "arousal": arousal, "dominance": dominance}
    return tracks_for_mood(loaded.track_vad, _mood(query, values, loaded.lexicon), k)


# ------------------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soundtrack-search",
        description="Find movies (or tracks) by mood, or movies like a movie, in the project's "
        "scored catalogue.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--k", type=int, default=5, help="number of results (default 5)")
    common.add_argument("--project", help="Kedro project root (default: from the working dir)")
    common.add_argument("--env", help="configuration environment, e.g. demo")
    common.add_argument("--catalogue", help="a catalogue.csv to search instead of the project's")
    common.add_argument("--track-vad", help="with --catalogue: a track_vad .parquet/.csv")
    common.add_argument("--lexicon", help="with --catalogue: a vad_lexicon .parquet/.csv")
    commands = parser.add_subparsers(dest="command", required=True)
    like = commands.add_parser("like", parents=[common], help="movies like a movie")
    like.add_argument("movie", help="movie_id or title")
    for name, help_text in (("mood", "movies or tracks nearest to mood words"),
                            ("vad", "movies or tracks nearest to values")):  # fmt: skip
        command = commands.add_parser(name, parents=[common], help=help_text)
        command.add_argument("--tracks", action="store_true", help="tracks instead of movies")
    words = commands.choices["mood"]
    words.add_argument("words", nargs="+", help='e.g. "melancholic but calm"')
    for label in VAD_LABELS:
        words.add_argument(f"--{label}", type=float, help=f"pin {label} (0..1) over the words")
    commands.choices["vad"].add_argument(
        "values", nargs="+", type=float, metavar="V", help="valence [arousal [dominance]], 0..1"
    )
    return parser


def _cli_data(args: argparse.Namespace) -> SearchData:
    if args.catalogue:
        return SearchData.from_files(args.catalogue, args.track_vad, args.lexicon)
    return load(args.project, env=args.env)


def _print_hits(hits: pd.DataFrame, columns: Sequence[str], heading: str) -> None:
    print(heading)
    if hits.empty:
        print("(no results)")
        return
    shown = [c for c in columns if c in hits.columns]
    table = hits[shown].copy()
    for column in COUNT_COLUMNS.intersection(shown):
        # a CSV column with a missing count reads as float: a count prints as one
        table[column] = pd.to_numeric(table[column], errors="coerce").round().astype("Int64")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    provenance = [c for c in PROVENANCE_COLUMNS[:3] if c in hits.columns]
    if provenance:
        first = hits.iloc[0]
        print("scored by " + "; ".join(f"{c}: {first[c]}" for c in provenance))
    if "demo_model" in hits.columns and hits["demo_model"].astype(bool).any():
        print("DEMO model: trained on the synthetic demo corpus; these scores say nothing about "
              "real music.")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """``soundtrack-search like <movie> | mood <words> | vad V [A [D]] [--k 5] [--tracks]``."""
    args = _parser().parse_args(argv)
    try:
        data = _cli_data(args)
        if args.command == "like":
            hits = similar(args.movie, args.k, data=data)
            _print_hits(hits, MOVIE_COLUMNS, f"Movies like {args.movie}:")
            return 0
        pinned: dict[str, float | None] = {}
        if args.command == "mood":
            query: str | dict[str, float] = " ".join(args.words)
            pinned = {label: getattr(args, label) for label in VAD_LABELS}
        else:
            if len(args.values) > len(VAD_LABELS):
                raise ParameterError(f"vad takes at most {len(VAD_LABELS)} values "
                                     f"({', '.join(VAD_LABELS)}), got {args.values}")  # fmt: skip
            query = dict(zip(VAD_LABELS, args.values, strict=False))
        target = _mood(query, pinned, data.lexicon)
        search, columns = (tracks, TRACK_COLUMNS) if args.tracks else (mood, MOVIE_COLUMNS)
        hits = search(target, args.k, data=data)
        kind = "Tracks" if args.tracks else "Movies"
        _print_hits(hits, columns, f"{kind} nearest to {target.describe()}:")
    except SoundtrackEmotionError as error:
        print(f"soundtrack-search: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
