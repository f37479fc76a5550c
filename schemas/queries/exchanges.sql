-- Which pairs had a two-way exchange (a reader comment and an author reply in one pair_scores row,
-- either direction) in windows that lie wholly in [from_time, to_time): the label that
-- `social-mentors evaluate` predicts. Pairs are named as in strengths.sql: the smaller id first.
-- Parameters: site STRING, from_time TIMESTAMP, to_time TIMESTAMP.
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @site AS site, CAST(@from_time AS TIMESTAMP) AS from_time, CAST(@to_time AS TIMESTAMP) AS to_time
)
SELECT s.site, LEAST(s.author_id, s.reader_id) AS actor_a, GREATEST(s.author_id, s.reader_id) AS actor_b,
       COUNT(*) AS windows
FROM pair_scores_latest AS s CROSS JOIN params AS p
WHERE (p.site IS NULL OR s.site = p.site) AND s.window_start >= p.from_time AND s.window_end <= p.to_time
  AND s.reader_comments > 0 AND s.author_replies > 0
GROUP BY s.site, LEAST(s.author_id, s.reader_id), GREATEST(s.author_id, s.reader_id)
ORDER BY s.site, actor_a, actor_b
