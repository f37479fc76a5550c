"""pair_scores by one DuckDB SQL query, and the row-for-row check against the pipeline's table.

The query restates the README's definitions (transforms/dedupe.py, conversations.py, windowing.py,
score.py) in SQL, over the Parquet copy of the events (``seq`` = position in the Avro file):

* dedupe: one event per event_id, the first copy delivered (lowest ``seq``);
* an item of a thread (site, thread_id) is its first claim by (created_at, seq): created first, then
  delivered first; another event_id claiming it is a DUPLICATE_ITEM, neither scored nor a parent;
* a response's parent author: its parent_actor_id, else its parent item's actor; none: unresolved;
* reader comment of (parent author, actor) when they differ, in the window of its created_at;
* author reply of (actor, parent author) when the parent item is a response whose own parent author
  is the actor, credited to the window of parent_created_at (else the parent item's created_at);
  latency max(0, created_at - that anchor) in seconds; of them, those written by the window's end
  (created_at <= window_end) are author_replies_by_window_end, and the columns ``_by_window_end``
  (latency, mentor_score, last interaction) count only those replies;
* windows aligned to Monday 1970-01-05; median latency (mean of the middle two); the formulas of
  transforms/score.py with the constants of ScoringConfig.
"""
from __future__ import annotations

import math
from typing import Any

from transforms.score import ScoringConfig
from transforms.windowing import WINDOW_ORIGIN_MS

KEY = ("site", "author_id", "reader_id", "window_start")
EXACT = ("window_end", "reader_comments", "author_replies", "author_replies_by_window_end", "reader_active_days",
         "first_interaction_at", "last_interaction_at", "last_interaction_at_by_window_end")
APPROXIMATE = ("reply_latency_p50_s", "reply_rate", "reciprocity", "mentor_score", "reply_latency_p50_s_by_window_end",
               "mentor_score_by_window_end")
COLUMNS = KEY + EXACT + APPROXIMATE


def pair_scores_sql(parquet_path: str, window_s: float = 7 * 86400.0, config: ScoringConfig = ScoringConfig()) -> str:
    window_ms = int(window_s * 1000)
    return f"""
WITH uniq AS (
  SELECT * FROM read_parquet('{parquet_path}')
  QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY seq) = 1
), items AS (
  SELECT site, thread_id, item_id, event_id, kind, actor_id, parent_id, parent_actor_id, created_at FROM uniq
  QUALIFY row_number() OVER (PARTITION BY site, thread_id, item_id ORDER BY created_at, seq, event_id) = 1
), responses AS (
  SELECT r.site, r.actor_id, r.created_at, r.parent_created_at,
         coalesce(r.parent_actor_id, p.actor_id) AS parent_author,
         p.kind AS parent_kind, p.created_at AS parent_item_created_at,
         coalesce(p.parent_actor_id, g.actor_id) AS grandparent_author
  FROM uniq r
  JOIN items h ON h.site = r.site AND h.thread_id = r.thread_id AND h.item_id = r.item_id AND h.event_id = r.event_id
  LEFT JOIN items p ON p.site = r.site AND p.thread_id = r.thread_id AND p.item_id = r.parent_id
  LEFT JOIN items g ON g.site = r.site AND g.thread_id = r.thread_id AND g.item_id = p.parent_id
  WHERE r.kind <> 'POST'
), contributions AS (
  SELECT site, parent_author AS author_id, actor_id AS reader_id, false AS is_reply,
         created_at AS anchor, created_at, NULL::DOUBLE AS latency_s
  FROM responses WHERE parent_author IS NOT NULL AND parent_author <> actor_id
  UNION ALL
  SELECT site, actor_id, parent_author, true, coalesce(parent_created_at, parent_item_created_at), created_at,
         greatest(0.0, (created_at - coalesce(parent_created_at, parent_item_created_at)) / 1000.0)
  FROM responses
  WHERE parent_kind IS NOT NULL AND parent_kind <> 'POST' AND parent_author IS NOT NULL
    AND parent_author <> actor_id AND grandparent_author = actor_id
), activity AS (
  SELECT site, author_id, reader_id,
         anchor - (anchor - {WINDOW_ORIGIN_MS}) % {window_ms} AS window_start,
         count(*) FILTER (WHERE NOT is_reply) AS rc,
         count(*) FILTER (WHERE is_reply) AS ar,
         count(*) FILTER (WHERE is_reply
                          AND created_at <= anchor - (anchor - {WINDOW_ORIGIN_MS}) % {window_ms} + {window_ms}) AS ar_by_end,
         count(DISTINCT created_at // 86400000) FILTER (WHERE NOT is_reply) AS days,
         median(latency_s) AS p50,
         median(latency_s) FILTER (WHERE is_reply
                                   AND created_at <= anchor - (anchor - {WINDOW_ORIGIN_MS}) % {window_ms} + {window_ms}) AS p50_end,
         min(created_at) AS first_at, max(created_at) AS last_at,
         max(created_at) FILTER (WHERE NOT is_reply
                                 OR created_at <= anchor - (anchor - {WINDOW_ORIGIN_MS}) % {window_ms} + {window_ms}) AS last_end
  FROM contributions GROUP BY ALL
), rates AS (
  SELECT *, CASE WHEN rc > 0 THEN least(1.0, ar::DOUBLE / rc) END AS reply_rate,
         CASE WHEN p50 IS NULL THEN 0.0 ELSE 1.0 / (1.0 + p50 / {config.latency_scale_s!r}) END AS speed,
         CASE WHEN rc > 0 THEN least(1.0, ar_by_end::DOUBLE / rc) END AS reply_rate_end,
         CASE WHEN p50_end IS NULL THEN 0.0 ELSE 1.0 / (1.0 + p50_end / {config.latency_scale_s!r}) END AS speed_end
  FROM activity
)
SELECT site, author_id, reader_id, window_start, window_start + {window_ms} AS window_end,
       rc AS reader_comments, ar AS author_replies, ar_by_end AS author_replies_by_window_end,
       days AS reader_active_days,
       first_at AS first_interaction_at, last_at AS last_interaction_at, last_end AS last_interaction_at_by_window_end,
       p50 AS reply_latency_p50_s, p50_end AS reply_latency_p50_s_by_window_end, reply_rate,
       CASE WHEN rc > 0 AND ar > 0 THEN least(rc, ar)::DOUBLE / greatest(rc, ar) ELSE 0.0 END AS reciprocity,
       (1.0 - exp(-rc / {config.comment_saturation!r})) * coalesce(reply_rate, 0.0)
         * ({1.0 - config.speed_weight!r} + {config.speed_weight!r} * speed) AS mentor_score,
       (1.0 - exp(-rc / {config.comment_saturation!r})) * coalesce(reply_rate_end, 0.0)
         * ({1.0 - config.speed_weight!r} + {config.speed_weight!r} * speed_end) AS mentor_score_by_window_end
FROM rates
"""


def warehouse_sql() -> str:
    """The pipeline's pair_scores from the embedded warehouse, timestamps as epoch millis."""
    stamps = {"window_start", "window_end", "first_interaction_at", "last_interaction_at",
              "last_interaction_at_by_window_end"}
    return "SELECT " + ", ".join(f"epoch_ms({c}) AS {c}" if c in stamps else c for c in COLUMNS) + " FROM pair_scores"


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def compare(expected: list[tuple], actual: list[tuple], limit: int = 5) -> list[str]:
    """Differences between two lists of COLUMNS rows (empty when they match row for row)."""
    problems: list[str] = []
    n = len(KEY)
    want = {row[:n]: row for row in expected}
    got = {row[:n]: row for row in actual}
    if len(want) != len(expected) or len(got) != len(actual):
        problems.append(f"duplicate keys: {len(expected) - len(want)} in DuckDB, {len(actual) - len(got)} in pipeline")
    for key in sorted(want.keys() - got.keys())[:limit]:
        problems.append(f"missing from the pipeline: {key}")
    for key in sorted(got.keys() - want.keys())[:limit]:
        problems.append(f"not in DuckDB's result: {key}")
    differing = 0
    for key in want.keys() & got.keys():
        a, b = want[key], got[key]
        exact_ok = a[n:n + len(EXACT)] == b[n:n + len(EXACT)]
        approx_ok = all(_close(x, y) for x, y in zip(a[n + len(EXACT):], b[n + len(EXACT):]))
        if not (exact_ok and approx_ok):
            differing += 1
            if differing <= limit:
                problems.append(f"differs: {key}: DuckDB {a[n:]} pipeline {b[n:]}")
    if differing > limit:
        problems.append(f"... {differing} rows differ in all")
    if len(want.keys() ^ got.keys()) > 2 * limit:
        problems.append(f"{len(want.keys() - got.keys())} missing, {len(got.keys() - want.keys())} extra in all")
    return problems
