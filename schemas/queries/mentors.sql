-- Who are the social mentors of reader @reader?
-- Authors ranked by relationship strength: the sum over all windows of mentor_score, each window
-- weighted by 0.5 ^ (age / half-life), its age measured from the newest window in scope.
-- Parameters: @reader STRING, @site STRING (NULL = every site), @half_life_days FLOAT64, @top INT64.
WITH scoped AS (
  SELECT *
  FROM pair_scores_latest
  WHERE reader_id = @reader AND (@site IS NULL OR site = @site)
),
newest AS (
  SELECT MAX(window_end) AS newest_window_end FROM scoped
)
SELECT
  site,
  author_id,
  SUM(mentor_score * POW(0.5, TIMESTAMP_DIFF(newest.newest_window_end, window_end, SECOND) / (@half_life_days * 86400.0))) AS strength,
  COUNT(*) AS windows,
  SUM(reader_comments) AS reader_comments,
  SUM(author_replies) AS author_replies,
  MAX(last_interaction_at) AS last_interaction_at
FROM scoped CROSS JOIN newest
GROUP BY site, author_id
HAVING SUM(author_replies) > 0
ORDER BY strength DESC, author_id
LIMIT @top
