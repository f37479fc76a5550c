-- The strongest relationships of a site (or of every site), mentor side first: for the analyst
-- who does not yet know whom to ask about. Only pairs with an author reply (either way).
-- Parameters: site STRING, as_of TIMESTAMP, half_life_days FLOAT64, top INT64.
-- site NULL = every site; as_of NULL = the newest data in the warehouse.
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @site AS site, CAST(@as_of AS TIMESTAMP) AS as_of, @half_life_days AS half_life_days, @top AS top
),
-- include: _pair_strength
ranked AS (
  SELECT s.*, params.top
  FROM strengths AS s CROSS JOIN params
  WHERE s.two_way
)
SELECT site, mentor_id, mentee_id, strength, comments, replies, quick_replies, mentor_activity, mentee_activity,
       mentor_comments, mentee_comments, mentor_replies, mentee_replies, windows, last_interaction_at, as_of
FROM ranked
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (ORDER BY strength DESC, site, mentor_id, mentee_id) <= MAX(top) OVER ()
ORDER BY strength DESC, site, mentor_id, mentee_id
