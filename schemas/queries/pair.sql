-- One relationship explained: its strength as of the anchor, every factor with its weight, what each
-- term adds, the mentor side and why, and the baselines. The two people may be given in either order.
-- Parameters: author STRING, reader STRING, site STRING, as_of TIMESTAMP, half_life_days FLOAT64.
-- site NULL = every site; as_of NULL = the newest data in the warehouse.
-- Each parameter is read once, in `params`, and comments name them without their @: some engines
-- bind every @name they find in the text, comments and repeats included.
WITH params AS (
  SELECT @author AS author, @reader AS reader, @site AS site, CAST(@as_of AS TIMESTAMP) AS as_of,
         @half_life_days AS half_life_days
),
-- include: _pair_strength
chosen AS (
  SELECT s.*
  FROM strengths AS s CROSS JOIN params
  WHERE (s.mentor_id = params.author AND s.mentee_id = params.reader)
     OR (s.mentor_id = params.reader AND s.mentee_id = params.author)
)
SELECT
  site, mentor_id, mentee_id, as_of, strength,
  comments, comments_weight, replies, replies_weight, quick_replies, quick_replies_weight, conversation_part,
  mentor_activity, mentor_activity_weight, mentor_activity_part,
  mentee_activity, mentee_activity_weight, mentee_activity_part,
  mentor_partners, mentee_partners, mentor_comments, mentee_comments, mentor_replies, mentee_replies,
  decayed_reader_comments, decayed_comments_and_replies, decayed_mentor_score, windows, two_way, last_interaction_at
FROM chosen
ORDER BY site
