"""Track and movie ids: stable, file-name safe, bounded in length, distinct for distinct names."""

from __future__ import annotations

import pytest

from soundtrack_emotion.core.matching import (
    MAX_ID_BYTES,
    file_safe_id,
    file_safe_ids,
    make_track_id,
)
from soundtrack_emotion.exceptions import ParameterError


def test_track_ids_of_long_cjk_names_fit_a_file_name():
    track_id = make_track_id("久石譲" * 30, "あの夏へ" * 30)
    assert len(f"{track_id}.json".encode()) < 255


def test_names_without_letters_or_digits_keep_distinct_track_ids():
    assert make_track_id("Artist", "♥♥♥") != make_track_id("Artist", "★★★")
    # Case and spacing variants of one track still share its id.
    assert make_track_id("Hans Zimmer", "Time") == make_track_id("hans  zimmer", "TIME")


def test_a_file_safe_id_is_one_path_component():
    assert file_safe_id("../etc/passwd") == "etc_passwd"
    with pytest.raises(ParameterError, match="no letter or digit"):
        file_safe_id("///", what="movie_id")


def test_long_names_are_cut_with_a_hash_of_the_whole_name():
    first, second = "x" * 300 + "a", "x" * 300 + "b"
    ids = file_safe_ids([first, second])
    assert ids[first] != ids[second]
    assert all(len(i.encode()) <= MAX_ID_BYTES for i in ids.values())


def test_names_that_would_share_files_are_refused():
    with pytest.raises(ParameterError, match="'Alien' and 'ALIEN'"):
        file_safe_ids(["Alien", "ALIEN"], what="movie")
    assert file_safe_ids(["Alien", "Alien"]) == {"Alien": "Alien"}  # one name, once
