-- The operator's status: dead letters that arrived since a time (the last hour), by reason. Read
-- from dead_letters_latest: a replay dead-letters the same records again, and they count once.
-- Parameters: since TIMESTAMP.
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT CAST(@since AS TIMESTAMP) AS since
)
SELECT d.error_kind, COUNT(*) AS records, MAX(d.arrived_at) AS newest_arrived_at
FROM dead_letters_latest AS d CROSS JOIN params AS p
WHERE d.arrived_at >= p.since
GROUP BY d.error_kind
ORDER BY records DESC, d.error_kind
