-- The whole history of one author-reader pair, window by window (both directions, by window and
-- then by author_id).
-- Parameters: author STRING, reader STRING, site STRING (NULL = every site).
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @author AS author, @reader AS reader, @site AS site
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
  s.pane_timing,
  s.pane_index,
  -- the window as it stood at its end, as a given --as-of counts it (NULL in rows of older releases)
  s.last_interaction_at,
  s.author_replies_by_window_end,
  s.reply_latency_p50_s_by_window_end,
  s.mentor_score_by_window_end,
  s.last_interaction_at_by_window_end
FROM pair_scores_latest AS s CROSS JOIN params AS p
WHERE ((s.author_id = p.author AND s.reader_id = p.reader) OR (s.author_id = p.reader AND s.reader_id = p.author))
  AND (p.site IS NULL OR s.site = p.site)
ORDER BY s.site, s.window_start, s.author_id
