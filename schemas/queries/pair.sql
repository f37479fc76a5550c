-- The whole history of one author-reader pair, window by window.
-- Parameters: @author STRING, @reader STRING, @site STRING (NULL = every site).
SELECT
  site,
  window_start,
  window_end,
  reader_comments,
  author_replies,
  reader_active_days,
  reply_latency_p50_s,
  reply_rate,
  reciprocity,
  mentor_score,
  pane_timing,
  pane_index
FROM pair_scores_latest
WHERE author_id = @author AND reader_id = @reader AND (@site IS NULL OR site = @site)
ORDER BY site, window_start
