-- Per variant of one run: records per score bucket of width 0.1 over [0, 1] (a score of 1 counts in
-- the last bucket; scores outside [0, 1], e.g. from regression models, are left out). All ten buckets
-- are listed, empty ones with 0.
-- parameters: run_id
WITH run_rows AS (
  SELECT variant, score
  FROM {{table}}
  WHERE run_id = ? AND score >= 0 AND score <= 1
),
bucketed AS (
  SELECT variant, least(CAST(floor(score * 10) AS integer), 9) AS bucket
  FROM run_rows
),
buckets AS (
  SELECT bucket FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS b (bucket)
),
variants AS (
  SELECT DISTINCT variant FROM run_rows
)
SELECT
  v.variant,
  b.bucket,
  CAST(b.bucket AS double) / 10 AS lower_bound,
  CAST(b.bucket + 1 AS double) / 10 AS upper_bound,
  count(x.bucket) AS records
FROM variants v
CROSS JOIN buckets b
LEFT JOIN bucketed x ON x.variant = v.variant AND x.bucket = b.bucket
GROUP BY v.variant, b.bucket
ORDER BY v.variant, b.bucket
