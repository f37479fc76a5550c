-- The accounting of one run as the warehouse holds it, for the run summary: its ledger (what the
-- pipeline counted, side 'ledger') beside what it stored (side 'stored'): its dead letters by
-- error_kind, the pair rows of the run, and those of its rows the latest view passes over for a
-- more complete row of another run (BigQuery, which appends; the embedded warehouse keeps the
-- complete row at write time and counts that in the ledger).
-- Parameters: run TIMESTAMP
WITH keys_of_run AS (
  SELECT DISTINCT site, author_id, reader_id, window_start
  FROM pair_scores
  WHERE run_started_at = @run
)
SELECT 'ledger' AS side, outcome, reason, `count` AS n
FROM run_ledger_latest
WHERE run_started_at = @run
UNION ALL
SELECT 'stored' AS side, 'dead_lettered' AS outcome, error_kind AS reason, COUNT(*) AS n
FROM dead_letters
WHERE run_started_at = @run
GROUP BY error_kind
UNION ALL
SELECT 'stored' AS side, 'pair_rows' AS outcome, 'of_run' AS reason, COUNT(*) AS n
FROM keys_of_run
UNION ALL
SELECT 'stored' AS side, 'pair_rows' AS outcome, 'superseded' AS reason, COUNT(*) AS n
FROM keys_of_run AS mine
JOIN pair_scores_latest AS latest USING (site, author_id, reader_id, window_start)
WHERE latest.run_started_at <> @run
