-- Who are the regulars of author @author?
-- Readers ranked by how steadily they come back: the sum over all windows of reader_active_days,
-- each window weighted by 0.5 ^ (age / half-life) as in mentors.sql; the author's replies and the
-- decayed mentor strength are shown beside it.
-- Parameters: @author STRING, @site STRING (NULL = every site), @half_life_days FLOAT64, @top INT64.
WITH scoped AS (
  SELECT *
  FROM pair_scores_latest
  WHERE author_id = @author AND (@site IS NULL OR site = @site)
),
newest AS (
  SELECT MAX(window_end) AS newest_window_end FROM scoped
),
weighted AS (
  SELECT
    scoped.*,
    POW(0.5, TIMESTAMP_DIFF(newest.newest_window_end, window_end, SECOND) / (@half_life_days * 86400.0)) AS weight
  FROM scoped CROSS JOIN newest
)
SELECT
  site,
  reader_id,
  SUM(reader_active_days * weight) AS regularity,
  SUM(mentor_score * weight) AS strength,
  SUM(reader_active_days) AS active_days,
  SUM(reader_comments) AS reader_comments,
  SUM(author_replies) AS author_replies,
  MAX(last_interaction_at) AS last_interaction_at
FROM weighted
GROUP BY site, reader_id
HAVING SUM(reader_comments) > 0
ORDER BY regularity DESC, reader_id
LIMIT @top
