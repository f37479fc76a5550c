-- The newest run and its status, for `query` and `export` to warn when it did not finish.
-- Parameters:
SELECT run_started_at, status, source, finished_at, message
FROM runs_latest
ORDER BY run_started_at DESC
LIMIT 1
