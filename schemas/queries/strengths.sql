-- Every pair's relationship strength, its factors and the baselines, as of one anchor: what
-- `social-mentors evaluate` ranks (one call per month), and a table for analysts' own ranking.
-- Parameters: site STRING, as_of TIMESTAMP, half_life_days FLOAT64.
-- site NULL = every site; as_of NULL = the newest data in the warehouse.
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @site AS site, CAST(@as_of AS TIMESTAMP) AS as_of, @half_life_days AS half_life_days
),
-- include: _pair_strength
everything AS (
  SELECT * FROM strengths
)
SELECT site, mentor_id, mentee_id, strength, comments, replies, quick_replies, mentor_activity, mentee_activity,
       mentor_partners, mentee_partners, mentor_comments, mentee_comments, mentor_replies, mentee_replies,
       decayed_reader_comments, decayed_comments_and_replies, decayed_mentor_score,
       windows, two_way, last_interaction_at, as_of
FROM everything
ORDER BY site, mentor_id, mentee_id
