-- For a run with two or more variants: per pair of variants, the 20 records whose scores differ most, with their id, source and record number, both scores and both labels (ties broken by source and record). A run with one variant returns no rows.
-- parameters: run_id
WITH run_rows AS (
  SELECT variant, id, source, record, score, label
  FROM {{table}}
  WHERE run_id = ?
),
pairs AS (
  SELECT
    a.variant AS variant_a,
    b.variant AS variant_b,
    a.id,
    a.source,
    a.record,
    a.score AS score_a,
    b.score AS score_b,
    abs(a.score - b.score) AS score_diff,
    a.label AS label_a,
    b.label AS label_b
  FROM run_rows a
  JOIN run_rows b
    ON a.source = b.source AND a.record = b.record AND a.variant < b.variant
),
ranked AS (
  SELECT
    *,
    row_number() OVER (PARTITION BY variant_a, variant_b ORDER BY score_diff DESC, source, record) AS rank
  FROM pairs
)
SELECT variant_a, variant_b, rank, id, source, record, score_a, score_b, score_diff, label_a, label_b
FROM ranked
WHERE rank <= 20
ORDER BY variant_a, variant_b, rank
