-- View: one row per input record and error (origin, error_kind), however often runs read it: a
-- replayed topic or file dead-letters the same record again, under the new run, and a count must
-- not double. The newest run's is shown. Written once in BigQuery SQL; the embedded warehouse runs
-- a transpiled copy (schemas.queries).
CREATE OR REPLACE VIEW dead_letters_latest AS
SELECT *
FROM dead_letters
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY origin, error_kind
  ORDER BY run_started_at DESC, arrived_at DESC
) = 1
