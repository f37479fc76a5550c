-- Fragment, not a query: the relationship strength of every pair, included by the queries that
-- rank by it (a line "-- include: _pair_strength" in them), so that the formula is written once.
-- It reads the CTE `params` of the including query: as_of TIMESTAMP (NULL = the newest data),
-- site STRING (NULL = every site), half_life_days FLOAT64.
--
-- A pair is two people on one site, whoever wrote first; both directions of pair_scores count.
-- Anchor: as_of, else the newest window_end in the whole warehouse, so every query (and every
-- site) decays from the same moment. Only windows that ended by the anchor count. A reply is
-- credited to the window of the comment it answers, so a window can hold replies written after its
-- end. With a given as_of, every window counts as it stood at its end: its reader comments (all
-- written inside it), the replies written by its end (author_replies_by_window_end), quick by their
-- own median latency, its mentor_score by its end, decayed from its last interaction by its end. That
-- is the same whatever is written after as_of (so --as-of, and evaluate's ranking as of a cut, rank a
-- warehouse as one of only the events up to then would); a reply written after its window's end
-- counts only at the default anchor (the newest data), which counts every window as it stands. A
-- window whose last interaction is by its end stood then as it stands, so rows of releases before
-- schema version 5 (NULL in the *_by_window_end columns) count exactly there; otherwise such a row
-- counts its comments and author_replies_by_window_end (NULL before version 4: none), none of them
-- quick, no mentor_score, decayed from its end. A window with nothing written by its end counts
-- nothing then. Each row is weighted by 0.5 ^ (age / half-life), the age measured from its last
-- interaction rather than from its window's bounds, so a conversation across midnight or a window
-- edge weighs what it would inside one window, and the factors are summed over windows before any
-- curve is applied.
-- Factors (named as in the output; their weights in `weights` below, documented in the README):
--   comments          decayed reader comments of the pair, both directions            weight 1
--   replies           decayed author replies of the pair, both directions             weight 4
--   quick_replies     the same, each window's replies times 1 / (1 + median latency / 1 h)  weight 8
--   mentor_activity   decayed comments + replies of the mentor side with everyone else     weight 0.5
--   mentee_activity   the same for the other side                                         weight 0.5
-- strength = ln(1 + comments + 4 replies + 8 quick_replies)
--            + 0.5 ln(1 + mentor_activity) + 0.5 ln(1 + mentee_activity)
-- (activity at 0.5, up from 0.25: measured with `social-mentors evaluate`, see the README)
-- Mentor side: the one with more distinct partners on the site up to the anchor (people who help
-- talk with many); ties: the one who wrote more responses on the site (each response of a person
-- that answers someone is one reader comment of theirs; an author reply is one of those), then the
-- smaller id.
anchor AS (
  SELECT
    COALESCE(params.as_of, (SELECT MAX(window_end) FROM pair_scores_latest)) AS as_of,
    params.as_of IS NOT NULL AS as_of_given,
    params.site AS site,
    params.half_life_days AS half_life_days
  FROM params
),
rows_as_of AS (
  SELECT
    s.*,
    -- a given anchor counts the window as it stood at its end (see above), unless it stands so still
    a.as_of_given AND s.last_interaction_at > s.window_end AS at_window_end,
    a.as_of,
    a.half_life_days
  FROM pair_scores_latest AS s CROSS JOIN anchor AS a
  WHERE s.window_end <= a.as_of AND (a.site IS NULL OR s.site = a.site)
),
windows_as_of AS (
  SELECT
    site,
    author_id,
    reader_id,
    reader_comments,
    -- NULL in rows of older releases: no replies by the end known (before version 4), no latency or
    -- mentor_score by the end (before version 5), so none quick and no score; decayed from the end
    IF(at_window_end, COALESCE(author_replies_by_window_end, 0), author_replies) AS author_replies,
    IF(at_window_end, COALESCE(mentor_score_by_window_end, 0.0), mentor_score) AS mentor_score,
    IF(at_window_end, reply_latency_p50_s_by_window_end, reply_latency_p50_s) AS reply_latency_p50_s,
    IF(at_window_end, COALESCE(last_interaction_at_by_window_end, window_end), last_interaction_at) AS last_interaction_at,
    as_of,
    half_life_days
  FROM rows_as_of
  -- only replies written after its end: nothing of it existed then (a warehouse of the events up to
  -- the anchor may not even hold the row)
  WHERE NOT (at_window_end AND reader_comments = 0 AND COALESCE(author_replies_by_window_end, 0) = 0)
),
weighted_rows AS (
  SELECT
    *,
    -- in milliseconds: engines differ in how they round a part of a second
    POW(0.5, GREATEST(TIMESTAMP_DIFF(as_of, last_interaction_at, MILLISECOND), 0)
             / (half_life_days * 86400000.0)) AS weight
  FROM windows_as_of
),
actor_rows AS (
  SELECT site, author_id AS actor_id, reader_id AS partner_id, weight * (reader_comments + author_replies) AS decayed,
         0 AS written  -- the author's replies are counted as their reader comments of the other direction
  FROM weighted_rows
  UNION ALL
  SELECT site, reader_id AS actor_id, author_id AS partner_id, weight * (reader_comments + author_replies) AS decayed,
         reader_comments AS written
  FROM weighted_rows
),
actors AS (
  SELECT site, actor_id, SUM(decayed) AS activity, COUNT(DISTINCT partner_id) AS partners, SUM(written) AS responses_written
  FROM actor_rows
  GROUP BY site, actor_id
),
pairs AS (
  SELECT
    site,
    LEAST(author_id, reader_id) AS actor_a,
    GREATEST(author_id, reader_id) AS actor_b,
    SUM(weight * reader_comments) AS comments,
    SUM(weight * author_replies) AS replies,
    -- replies of unknown latency (their comment's time unknown) are not counted as quick
    COALESCE(SUM(weight * author_replies / (1 + reply_latency_p50_s / 3600.0)), 0.0) AS quick_replies,
    SUM(weight * (reader_comments + author_replies)) AS exchanges,
    SUM(weight * reader_comments) AS decayed_reader_comments,
    SUM(weight * (reader_comments + author_replies)) AS decayed_comments_and_replies,
    SUM(weight * mentor_score) AS decayed_mentor_score,
    -- reader comments written by actor_a to actor_b, and the other way round
    SUM(IF(reader_id < author_id, reader_comments, 0)) AS comments_a_to_b,
    SUM(IF(reader_id > author_id, reader_comments, 0)) AS comments_b_to_a,
    SUM(IF(author_id < reader_id, author_replies, 0)) AS replies_a_to_b,
    SUM(IF(author_id > reader_id, author_replies, 0)) AS replies_b_to_a,
    COUNT(*) AS windows,
    MAX(last_interaction_at) AS last_interaction_at
  FROM weighted_rows
  GROUP BY site, LEAST(author_id, reader_id), GREATEST(author_id, reader_id)
),
oriented AS (
  SELECT
    p.*,
    aa.activity - p.exchanges AS activity_a,
    ab.activity - p.exchanges AS activity_b,
    aa.partners AS partners_a,
    ab.partners AS partners_b,
    (aa.partners > ab.partners
      OR (aa.partners = ab.partners AND aa.responses_written > ab.responses_written)
      OR (aa.partners = ab.partners AND aa.responses_written = ab.responses_written)) AS a_is_mentor
  FROM pairs AS p
  JOIN actors AS aa ON aa.site = p.site AND aa.actor_id = p.actor_a
  JOIN actors AS ab ON ab.site = p.site AND ab.actor_id = p.actor_b
),
pair_strengths AS (
  SELECT
    site,
    IF(a_is_mentor, actor_a, actor_b) AS mentor_id,
    IF(a_is_mentor, actor_b, actor_a) AS mentee_id,
    comments,
    replies,
    quick_replies,
    GREATEST(IF(a_is_mentor, activity_a, activity_b), 0.0) AS mentor_activity,
    GREATEST(IF(a_is_mentor, activity_b, activity_a), 0.0) AS mentee_activity,
    IF(a_is_mentor, partners_a, partners_b) AS mentor_partners,
    IF(a_is_mentor, partners_b, partners_a) AS mentee_partners,
    IF(a_is_mentor, comments_a_to_b, comments_b_to_a) AS mentor_comments,
    IF(a_is_mentor, comments_b_to_a, comments_a_to_b) AS mentee_comments,
    IF(a_is_mentor, replies_a_to_b, replies_b_to_a) AS mentor_replies,
    IF(a_is_mentor, replies_b_to_a, replies_a_to_b) AS mentee_replies,
    decayed_reader_comments,
    decayed_comments_and_replies,
    decayed_mentor_score,
    windows,
    last_interaction_at
  FROM oriented
),
weights AS (
  SELECT 1.0 AS comments_weight, 4.0 AS replies_weight, 8.0 AS quick_replies_weight,
         0.5 AS mentor_activity_weight, 0.5 AS mentee_activity_weight
),
terms AS (
  SELECT
    ps.*,
    w.*,
    LN(1 + w.comments_weight * comments + w.replies_weight * replies + w.quick_replies_weight * quick_replies) AS conversation_part,
    w.mentor_activity_weight * LN(1 + mentor_activity) AS mentor_activity_part,
    w.mentee_activity_weight * LN(1 + mentee_activity) AS mentee_activity_part
  FROM pair_strengths AS ps CROSS JOIN weights AS w
),
strengths AS (
  SELECT
    terms.*,
    conversation_part + mentor_activity_part + mentee_activity_part AS strength,
    (mentor_replies + mentee_replies) > 0 AS two_way,
    anchor.as_of AS as_of
  FROM terms CROSS JOIN anchor
)
