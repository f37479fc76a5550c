-- The operator's status: the newest window in the warehouse and when a row was last computed.
-- Parameters: none.
SELECT
  MAX(window_start) AS newest_window_start,
  MAX(window_end) AS newest_window_end,
  MAX(computed_at) AS last_computed_at,
  COUNT(*) AS pair_windows
FROM pair_scores_latest
