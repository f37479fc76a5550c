-- Who are the regulars of an author?
-- Readers ranked by how steadily they come back: the sum over all windows of reader_active_days,
-- each window weighted by 0.5 ^ (age / half-life) as in mentors.sql; the author's replies and the
-- decayed mentor strength are shown beside it.
-- Parameters: author STRING, site STRING (NULL = every site), half_life_days FLOAT64, top INT64.
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @author AS author, @site AS site, @half_life_days AS half_life_days, @top AS top
),
scoped AS (
  SELECT s.*, p.half_life_days, p.top
  FROM pair_scores_latest AS s CROSS JOIN params AS p
  WHERE s.author_id = p.author AND (p.site IS NULL OR s.site = p.site)
),
newest AS (
  SELECT MAX(window_end) AS newest_window_end FROM scoped
),
weighted AS (
  SELECT
    scoped.*,
    POW(0.5, TIMESTAMP_DIFF(newest.newest_window_end, window_end, SECOND) / (half_life_days * 86400.0)) AS weight
  FROM scoped CROSS JOIN newest
),
ranked AS (
  SELECT
    site,
    reader_id,
    SUM(reader_active_days * weight) AS regularity,
    SUM(mentor_score * weight) AS strength,
    SUM(reader_active_days) AS active_days,
    SUM(reader_comments) AS reader_comments,
    SUM(author_replies) AS author_replies,
    MAX(last_interaction_at) AS last_interaction_at,
    MAX(top) AS top
  FROM weighted
  GROUP BY site, reader_id
  HAVING SUM(reader_comments) > 0
)
SELECT site, reader_id, regularity, strength, active_days, reader_comments, author_replies, last_interaction_at
FROM ranked
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (ORDER BY regularity DESC, reader_id) <= MAX(top) OVER ()
ORDER BY regularity DESC, reader_id
