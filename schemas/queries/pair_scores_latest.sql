-- View: one row per (site, author, reader, window), so that analysts never add up the early,
-- on-time and late panes of one window. Of one run, the highest pane (panes accumulate). Across
-- runs, the row computed from the most data (reader_comments + author_replies), then the newest
-- run: a restart that replays a topic whose retention has dropped the oldest events recomputes
-- their windows from less data, and must not hide the complete row. The embedded warehouse's
-- upsert keeps the same row. Written once in BigQuery SQL; the embedded warehouse runs a
-- transpiled copy (schemas.queries).
CREATE OR REPLACE VIEW pair_scores_latest AS
WITH newest_pane_of_each_run AS (
  SELECT *
  FROM pair_scores
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY site, author_id, reader_id, window_start, run_started_at
    ORDER BY pane_index DESC, computed_at DESC
  ) = 1
)
SELECT *
FROM newest_pane_of_each_run
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY site, author_id, reader_id, window_start
  ORDER BY reader_comments + author_replies DESC, run_started_at DESC
) = 1
