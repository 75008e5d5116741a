-- Per variant of one run: records per score bucket, the same buckets for every variant so their distributions overlay. Scores that are all in [0, 1] (probabilities) get ten buckets of width 0.1 (a score of 1 counts in the last); any other range (regression) gets twenty equal buckets from the run's smallest to its largest score. All buckets are listed, empty ones with 0. The range, and for probabilities the counts per tenth, come from the statistics ParseResults gathered (<table>_stats): probabilities read no result row; other scores read the rows once, counted per bucket before anything is joined, so memory does not grow with the run.
-- parameters: run_id, run_id, run_id
WITH score_range AS (
  SELECT min(min_value) AS min_score, max(max_value) AS max_score
  FROM {{table}}_stats
  WHERE run_id = ? AND kind = 'score' AND bin IS NULL
),
span AS (
  SELECT
    CASE WHEN min_score >= 0 AND max_score <= 1 THEN CAST(0 AS double) ELSE min_score END AS lo,
    CASE WHEN min_score >= 0 AND max_score <= 1 THEN CAST(1 AS double) ELSE max_score END AS hi,
    CASE WHEN min_score >= 0 AND max_score <= 1 THEN 10 ELSE 20 END AS buckets
  FROM score_range
  WHERE min_score IS NOT NULL
),
tenths AS (
  SELECT variant, CAST(bin AS integer) AS bucket, sum(records) AS records
  FROM {{table}}_stats
  WHERE run_id = ? AND kind = 'score_tenth'
  GROUP BY variant, bin
),
counted AS (
  SELECT t.variant, t.bucket, t.records
  FROM tenths t
  CROSS JOIN span s
  WHERE s.buckets = 10
  UNION ALL
  SELECT
    r.variant,
    CASE
      WHEN s.hi = s.lo THEN 0
      ELSE least(CAST(floor((r.score - s.lo) / (s.hi - s.lo) * s.buckets) AS integer), s.buckets - 1)
    END AS bucket,
    count(*) AS records
  FROM {{table}} r
  CROSS JOIN span s
  WHERE r.run_id = ? AND r.score IS NOT NULL AND s.buckets = 20
  GROUP BY 1, 2
),
numbers AS (
  SELECT bucket FROM (
    VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9),
      (10), (11), (12), (13), (14), (15), (16), (17), (18), (19)
  ) AS b (bucket)
),
buckets AS (
  SELECT n.bucket, s.lo, s.hi, s.buckets
  FROM numbers n
  CROSS JOIN span s
  WHERE n.bucket < s.buckets
),
variants AS (
  SELECT DISTINCT variant FROM counted
)
SELECT
  v.variant,
  b.bucket,
  b.lo + (b.hi - b.lo) * b.bucket / b.buckets AS lower_bound,
  b.lo + (b.hi - b.lo) * (b.bucket + 1) / b.buckets AS upper_bound,
  CAST(coalesce(sum(x.records), 0) AS bigint) AS records
FROM variants v
CROSS JOIN buckets b
LEFT JOIN counted x ON x.variant = v.variant AND x.bucket = b.bucket
GROUP BY v.variant, b.bucket, b.lo, b.hi, b.buckets
ORDER BY v.variant, b.bucket
