-- Who are the regulars of an author?
-- The pairs in which the author is the mentor side, ranked by the same relationship strength as
-- mentors.sql (the same pair shows the same number in both); people the author never answered
-- back (no author reply either way) are left out.
-- Parameters: author STRING, site STRING, as_of TIMESTAMP, half_life_days FLOAT64, top INT64.
-- site NULL = every site; as_of NULL = the newest data in the warehouse.
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @author AS author, @site AS site, CAST(@as_of AS TIMESTAMP) AS as_of, @half_life_days AS half_life_days, @top AS top
),
-- include: _pair_strength
ranked AS (
  SELECT s.*, params.top
  FROM strengths AS s CROSS JOIN params
  WHERE s.mentor_id = params.author AND s.two_way
)
SELECT site, mentee_id AS reader_id, strength, comments, replies, quick_replies, mentor_activity, mentee_activity,
       mentee_comments AS reader_comments, mentor_replies AS author_replies, windows, last_interaction_at, as_of
FROM ranked
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (ORDER BY strength DESC, reader_id, site) <= MAX(top) OVER ()
ORDER BY strength DESC, reader_id, site
