"""Actor ids and names from strangers: the checks every importer applies before a value names a person.

In: an author, a sender's address, a username or login as an archive gives it. Out: the reason it
cannot be an actor id (a counted skip with its origin), or None. Why: an id is the key of every
score and is printed by ``query``; an id holding a terminal escape, a zero-width space or a bidi
override is another person to the warehouse than the one it looks like, and one of a megabyte costs
that much in every row. The pipeline's own validation (transforms.events) bounds ids too, but an
importer says why on the record's own line, before an event is built. Display names (for the
actors file) are not keys: they keep their letters and lose what a terminal would run.
"""
from __future__ import annotations

import unicodedata
from typing import Any, Optional

from transforms.events import MAX_ID_LENGTH

NO_AUTHOR_ID = "no_author_id"  # absent, empty or only white space
ACTOR_ID_TOO_LONG = "actor_id_too_long"  # longer than MAX_ID_LENGTH characters, as `run` would refuse
BAD_ACTOR_ID = "bad_actor_id"  # not text, or holding a control, format, surrogate or separator character
# C0/C1 controls and DEL, format characters (zero-width, bidi, soft hyphen, tags), lone surrogates,
# private use, line and paragraph separators
_UNSEEN = frozenset(("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))


def _unseen(text: str) -> bool:
    if text.isascii():
        return not text.isprintable()  # ASCII: the controls and DEL are exactly what is not printable
    return any(unicodedata.category(c) in _UNSEEN for c in text)


def actor_id_problem(value: Any, max_length: int = MAX_ID_LENGTH) -> Optional[str]:
    """Why ``value`` cannot be an actor id (NO_AUTHOR_ID, ACTOR_ID_TOO_LONG, BAD_ACTOR_ID), or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return NO_AUTHOR_ID
    if not isinstance(value, str):
        return BAD_ACTOR_ID
    if len(value) > max_length:
        return ACTOR_ID_TOO_LONG
    return BAD_ACTOR_ID if _unseen(value) else None


def clean_name(name: Optional[str], max_length: int = MAX_ID_LENGTH) -> Optional[str]:
    """A display name without control, format or separator characters, cut at ``max_length``
    characters; None when nothing is left."""
    if not name:
        return None
    if _unseen(name):
        name = "".join(c for c in name if unicodedata.category(c) not in _UNSEEN)
    name = " ".join(name.split())[:max_length]
    return name or None
