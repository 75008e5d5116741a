-- Per variant of one run: for the score and each feature, the rows, missing values, mean, standard deviation (n - 1), smallest and largest value, merged over the run's jobs from the statistics ParseResults gathered (<table>_stats), so no result row is read again.
-- parameters: run_id
WITH totals AS (
  SELECT variant, kind, name, position, records, missing, mean, m2, min_value, max_value,
    records - missing AS present
  FROM {{table}}_stats
  WHERE run_id = ? AND kind IN ('score', 'feature') AND bin IS NULL
),
merged AS (
  SELECT
    variant, kind, name, position,
    sum(records) AS records,
    sum(missing) AS missing,
    sum(present) AS present,
    CASE WHEN sum(present) = 0 THEN NULL
      ELSE sum(CASE WHEN present > 0 THEN present * mean ELSE 0 END) / sum(present) END AS mean,
    min(min_value) AS min_value,
    max(max_value) AS max_value
  FROM totals
  GROUP BY variant, kind, name, position
),
spread AS (
  -- Chan et al.: the jobs' sums of squared deviations, each moved to the merged mean.
  SELECT
    m.variant, m.kind, m.name,
    sum(CASE WHEN t.present > 0 THEN t.m2 + t.present * (t.mean - m.mean) * (t.mean - m.mean) ELSE 0 END) AS m2
  FROM merged m
  JOIN totals t ON t.variant = m.variant AND t.kind = m.kind AND t.name = m.name
  GROUP BY m.variant, m.kind, m.name
)
SELECT
  m.variant,
  m.kind,
  m.name AS feature,
  m.position,
  m.records,
  m.missing,
  CAST(m.missing AS double) / m.records AS missing_rate,
  m.mean,
  CASE WHEN m.present > 1 THEN sqrt(s.m2 / (m.present - 1)) ELSE NULL END AS std,
  m.min_value,
  m.max_value
FROM merged m
JOIN spread s ON s.variant = m.variant AND s.kind = m.kind AND s.name = m.name
ORDER BY m.variant, m.position
