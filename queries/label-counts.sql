-- Per variant of one run: how many records got each label, and that label's share of the variant. Read from the counts ParseResults gathered while writing the rows (<table>_stats, one line per label per job), so no result row is read again.
-- parameters: run_id
SELECT
  variant,
  name AS label,
  CAST(sum(records) AS bigint) AS records,
  CAST(sum(records) AS double) / sum(sum(records)) OVER (PARTITION BY variant) AS share
FROM {{table}}_stats
WHERE run_id = ? AND kind = 'label'
GROUP BY variant, name
ORDER BY variant, records DESC, label NULLS LAST
