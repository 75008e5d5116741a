-- Per variant of one run: records and score statistics, with the count and share of each label. Read from the counts ParseResults gathered while writing the rows (<table>_stats: the score's totals line and one line per label per job), so no result row is read again; the mean is the jobs' means weighted by their rows.
-- parameters: run_id
WITH stats AS (
  SELECT variant, kind, name, records, missing, mean, min_value, max_value
  FROM {{table}}_stats
  WHERE run_id = ? AND kind IN ('score', 'label') AND bin IS NULL
),
per_variant AS (
  SELECT
    variant,
    CAST(sum(records) AS bigint) AS records,
    sum(mean * (records - missing)) / nullif(sum(records - missing), 0) AS mean_score,
    min(min_value) AS min_score,
    max(max_value) AS max_score
  FROM stats
  WHERE kind = 'score'
  GROUP BY variant
),
per_label AS (
  SELECT variant, name AS label, CAST(sum(records) AS bigint) AS label_records
  FROM stats
  WHERE kind = 'label'
  GROUP BY variant, name
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
