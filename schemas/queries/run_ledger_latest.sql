-- View: the newest count of each run, outcome and reason. A stream rewrites its ledger as it goes
-- (accumulating counts, a higher pane_index each time); BigQuery keeps every write, the embedded
-- warehouse only the newest.
CREATE OR REPLACE VIEW run_ledger_latest AS
SELECT *
FROM run_ledger
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY run_started_at, outcome, reason
  ORDER BY pane_index DESC, recorded_at DESC
) = 1
