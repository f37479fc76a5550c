-- View: the newest pane of every (site, author, reader, window), so that analysts never add up
-- the early, on-time and late panes of one window. A restarted run recomputes windows from pane 0
-- again, so the run comes before the pane in the order. Written once in BigQuery SQL; the embedded
-- warehouse runs a transpiled copy (schemas.queries).
CREATE OR REPLACE VIEW pair_scores_latest AS
SELECT *
FROM pair_scores
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY site, author_id, reader_id, window_start
  ORDER BY run_started_at DESC, pane_index DESC, computed_at DESC
) = 1
