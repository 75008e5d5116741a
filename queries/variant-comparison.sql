-- For a run with two or more variants: each pair of variants compared on the records both scored
-- (joined on source and record), with the share of records given the same label and the mean and
-- largest absolute score difference. A run with one variant returns no rows.
-- parameters: run_id
WITH run_rows AS (
  SELECT variant, source, record, score, label
  FROM {{table}}
  WHERE run_id = ?
)
SELECT
  a.variant AS variant_a,
  b.variant AS variant_b,
  count(*) AS records,
  avg(
    CASE
      WHEN a.label IS NULL OR b.label IS NULL THEN NULL
      WHEN a.label = b.label THEN CAST(1 AS double)
      ELSE CAST(0 AS double)
    END
  ) AS label_agreement,
  avg(abs(a.score - b.score)) AS mean_abs_score_diff,
  max(abs(a.score - b.score)) AS max_abs_score_diff
FROM run_rows a
JOIN run_rows b
  ON a.source = b.source AND a.record = b.record AND a.variant < b.variant
GROUP BY a.variant, b.variant
ORDER BY a.variant, b.variant
