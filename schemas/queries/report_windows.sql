-- The analyst report's data: every window of every pair in scope, the newest pane of each
-- (pair_scores_latest). The report aggregates these rows itself (leaderboards, distributions,
-- timelines), so one query serves both warehouses; --since bounds how many rows it reads.
-- Parameters: site STRING, since TIMESTAMP, as_of TIMESTAMP.
-- site NULL = every site; since NULL = from the first window; as_of NULL = up to the newest window.
-- A window is in scope when it ends after since and starts before as_of.
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @site AS site, CAST(@since AS TIMESTAMP) AS since, CAST(@as_of AS TIMESTAMP) AS as_of
)
SELECT
  s.site,
  s.author_id,
  s.reader_id,
  s.window_start,
  s.window_end,
  s.reader_comments,
  s.author_replies,
  s.reader_active_days,
  s.reply_latency_p50_s,
  s.reply_rate,
  s.reciprocity,
  s.mentor_score,
  s.first_interaction_at,
  s.last_interaction_at
FROM pair_scores_latest AS s CROSS JOIN params AS p
WHERE (p.site IS NULL OR s.site = p.site)
  AND (p.since IS NULL OR s.window_end > p.since)
  AND (p.as_of IS NULL OR s.window_start < p.as_of)
ORDER BY s.site, s.author_id, s.reader_id, s.window_start
