-- View: each person's newest record (name and signal), however often their actors file was loaded.
-- Written once in BigQuery SQL; the embedded warehouse runs a transpiled copy (schemas.queries).
CREATE OR REPLACE VIEW actors_latest AS
SELECT *
FROM actors
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (
  PARTITION BY site, actor_id
  ORDER BY loaded_at DESC
) = 1
