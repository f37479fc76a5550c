-- Who are the social mentors of a reader?
-- The pairs in which the reader is the mentee side, ranked by relationship strength as of the
-- anchor (see _pair_strength.sql and the README's "Scores"); people who never answered back in
-- the pair (no author reply either way) are left out.
-- Parameters: reader STRING, site STRING, as_of TIMESTAMP, half_life_days FLOAT64, top INT64.
-- site NULL = every site; as_of NULL = the newest data in the warehouse.
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @reader AS reader, @site AS site, CAST(@as_of AS TIMESTAMP) AS as_of, @half_life_days AS half_life_days, @top AS top
),
-- include: _pair_strength
ranked AS (
  SELECT s.*, params.top
  FROM strengths AS s CROSS JOIN params
  WHERE s.mentee_id = params.reader AND s.two_way
)
SELECT site, mentor_id AS author_id, strength, comments, replies, quick_replies, mentor_activity, mentee_activity,
       mentee_comments AS reader_comments, mentor_replies AS author_replies, windows, last_interaction_at, as_of
FROM ranked
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (ORDER BY strength DESC, author_id, site) <= MAX(top) OVER ()
ORDER BY strength DESC, author_id, site
