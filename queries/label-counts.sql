-- Per variant of one run: how many records got each label, and that label's share of the variant.
-- parameters: run_id
SELECT
  variant,
  label,
  count(*) AS records,
  CAST(count(*) AS double) / sum(count(*)) OVER (PARTITION BY variant) AS share
FROM {{table}}
WHERE run_id = ?
GROUP BY variant, label
ORDER BY variant, records DESC, label NULLS LAST
