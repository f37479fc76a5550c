-- View: the newest status of each run (RUNNING, then FINISHED or FAILED with its counts; LAUNCHED for a job handed to Dataflow).
CREATE OR REPLACE VIEW runs_latest AS
SELECT *
FROM runs
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY run_started_at
  ORDER BY recorded_at DESC, IF(status = 'RUNNING', 1, 0)
) = 1
