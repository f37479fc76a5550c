-- The time the warehouse covers, and its window length: where `social-mentors evaluate` puts its
-- monthly cuts (on window bounds, so that no window is split between history and label).
-- Parameters: site STRING (NULL = every site).
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @site AS site
)
SELECT MIN(s.window_start) AS first_window_start, MAX(s.window_end) AS last_window_end,
       MAX(TIMESTAMP_DIFF(s.window_end, s.window_start, SECOND)) AS window_s, COUNT(*) AS windows
FROM pair_scores_latest AS s CROSS JOIN params AS p
WHERE p.site IS NULL OR s.site = p.site
ORDER BY first_window_start
