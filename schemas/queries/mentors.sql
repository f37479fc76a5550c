-- Who are the social mentors of a reader?
-- Authors ranked by relationship strength: the sum over all windows of mentor_score, each window
-- weighted by 0.5 ^ (age / half-life), its age measured from the newest window in scope.
-- Parameters: reader STRING, site STRING (NULL = every site), half_life_days FLOAT64, top INT64.
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @reader AS reader, @site AS site, @half_life_days AS half_life_days, @top AS top
),
scoped AS (
  SELECT s.*, p.half_life_days, p.top
  FROM pair_scores_latest AS s CROSS JOIN params AS p
  WHERE s.reader_id = p.reader AND (p.site IS NULL OR s.site = p.site)
),
newest AS (
  SELECT MAX(window_end) AS newest_window_end FROM scoped
),
ranked AS (
  SELECT
    site,
    author_id,
    SUM(mentor_score * POW(0.5, TIMESTAMP_DIFF(newest.newest_window_end, window_end, SECOND) / (half_life_days * 86400.0))) AS strength,
    COUNT(*) AS windows,
    SUM(reader_comments) AS reader_comments,
    SUM(author_replies) AS author_replies,
    MAX(last_interaction_at) AS last_interaction_at,
    MAX(top) AS top
  FROM scoped CROSS JOIN newest
  GROUP BY site, author_id
  HAVING SUM(author_replies) > 0
)
SELECT site, author_id, strength, windows, reader_comments, author_replies, last_interaction_at
FROM ranked
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (ORDER BY strength DESC, author_id) <= MAX(top) OVER ()
ORDER BY strength DESC, author_id
