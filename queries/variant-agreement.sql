-- For a run with two or more variants: the agreement matrix of each pair of variants, joined on the records both scored (source and record): how many records got label_a from variant_a and label_b from variant_b. The diagonal (label_a = label_b) is where they agree. A run with one variant returns no rows.
-- parameters: run_id
WITH run_rows AS (
  SELECT variant, source, record, label
  FROM {{table}}
  WHERE run_id = ?
)
SELECT
  a.variant AS variant_a,
  b.variant AS variant_b,
  a.label AS label_a,
  b.label AS label_b,
  count(*) AS records
FROM run_rows a
JOIN run_rows b
  ON a.source = b.source AND a.record = b.record AND a.variant < b.variant
GROUP BY a.variant, b.variant, a.label, b.label
ORDER BY a.variant, b.variant, a.label NULLS LAST, b.label NULLS LAST
