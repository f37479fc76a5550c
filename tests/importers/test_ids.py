"""Actor ids from strangers: the one check every importer applies before an id becomes an actor."""
import pytest

from importers.ids import ACTOR_ID_TOO_LONG, BAD_ACTOR_ID, NO_AUTHOR_ID, actor_id_problem, clean_name


@pytest.mark.parametrize("value, problem", [
    ("alice", None), ("bob@example.org", None), ("Zoë_42", None), ("\U0001f600 x", None), ("a b", None),
    ("", NO_AUTHOR_ID), ("   ", NO_AUTHOR_ID), (None, NO_AUTHOR_ID),
    ("x" * 512, None), ("x" * 513, ACTOR_ID_TOO_LONG),
    ("a\x1b[2Jb", BAD_ACTOR_ID), ("tab\there", BAD_ACTOR_ID), ("nul\x00", BAD_ACTOR_ID), ("del\x7f", BAD_ACTOR_ID),
    ("c1\x85", BAD_ACTOR_ID), ("zero\u200bwidth", BAD_ACTOR_ID), ("bidi\u202eevil", BAD_ACTOR_ID),
    ("soft\u00adhyphen", BAD_ACTOR_ID), ("line\u2028sep", BAD_ACTOR_ID), ("lone\ud800", BAD_ACTOR_ID),
    ("tag\U000e0041", BAD_ACTOR_ID), (42, BAD_ACTOR_ID), (["a"], BAD_ACTOR_ID),
])
def test_an_actor_id_is_text_of_printable_characters_within_the_id_limit(value, problem):
    assert actor_id_problem(value) == problem


def test_a_display_name_keeps_its_letters_and_loses_controls_and_excess():
    assert clean_name("Zoë \x1b[2JEve\u202e") == "Zoë [2JEve"
    assert clean_name("x" * 10_000) == "x" * 512 and clean_name(" \u200b ") is None and clean_name(None) is None
