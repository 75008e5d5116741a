-- Per variant of one run: records and score statistics, with the count and share of each label.
-- parameters: run_id
WITH run_rows AS (
  SELECT variant, score, label
  FROM {{table}}
  WHERE run_id = ?
),
per_variant AS (
  SELECT
    variant,
    count(*) AS records,
    avg(score) AS mean_score,
    min(score) AS min_score,
    max(score) AS max_score
  FROM run_rows
  GROUP BY variant
),
per_label AS (
  SELECT variant, label, count(*) AS label_records
  FROM run_rows
  GROUP BY variant, label
)
SELECT
  v.variant,
  v.records,
  v.mean_score,
  v.min_score,
  v.max_score,
  l.label,
  l.label_records,
  CAST(l.label_records AS double) / v.records AS label_share
FROM per_variant v
JOIN per_label l ON l.variant = v.variant
ORDER BY v.variant, l.label NULLS LAST
