-- The analyst report's header: dead letters by reason, with one example origin and message each.
-- Dead letters have no site and arrive in processing time, so the report's scope does not apply.
-- Counted in dead_letters_latest: a record that several runs dead-lettered (a replay) counts once.
-- Parameters: none.
SELECT
  error_kind,
  COUNT(*) AS records,
  MIN(origin) AS example_origin,
  MIN(message) AS example_message
FROM dead_letters_latest
GROUP BY error_kind
ORDER BY records DESC, error_kind
