-- Per variant: how far this run's score and each feature moved from a baseline run, from the statistics ParseResults gathered (<table>_stats). The baseline is baseline_run_id, or when that is '' the previous run of the same table and variant (the latest registered before this one: only successful runs are registered). psi is the population stability index over ten groups: the baseline's deciles, taken from its fixed bins, applied to both runs (a share of 0 counts as 0.0001); drifted is psi > 0.2. Also the missing rate of both runs and its change. No rows when there is no baseline.
-- parameters: run_id, baseline_run_id, baseline_run_id
WITH stats AS (
  SELECT variant, run_id, kind, name, position, shard, bin, records, missing, mean, parsed_at
  FROM {{table}}_stats
),
current_run AS (
  SELECT variant, run_id, min(parsed_at) AS parsed_at
  FROM stats
  WHERE run_id = ? AND kind = 'model'
  GROUP BY variant, run_id
),
previous_runs AS (
  SELECT
    s.variant,
    s.run_id,
    row_number() OVER (PARTITION BY s.variant ORDER BY max(s.parsed_at) DESC, s.run_id DESC) AS recency
  FROM stats s
  JOIN current_run c ON c.variant = s.variant AND s.run_id <> c.run_id AND s.parsed_at < c.parsed_at
  WHERE s.kind = 'model'
  GROUP BY s.variant, s.run_id
),
pairs AS (
  SELECT
    c.variant,
    c.run_id,
    CASE WHEN ? = '' THEN p.run_id ELSE ? END AS baseline_run_id
  FROM current_run c
  LEFT JOIN previous_runs p ON p.variant = c.variant AND p.recency = 1
),
totals AS (
  SELECT
    p.variant, p.baseline_run_id,
    CASE WHEN s.run_id = p.run_id THEN 'current' ELSE 'baseline' END AS side,
    s.kind, s.name, s.position,
    sum(s.records) AS records,
    sum(s.missing) AS missing,
    CASE WHEN sum(s.records - s.missing) = 0 THEN NULL
      ELSE sum(CASE WHEN s.records > s.missing THEN (s.records - s.missing) * s.mean ELSE 0 END)
        / sum(s.records - s.missing) END AS mean
  FROM pairs p
  JOIN stats s ON s.variant = p.variant AND (s.run_id = p.run_id OR s.run_id = p.baseline_run_id)
  WHERE s.kind IN ('score', 'feature') AND s.bin IS NULL
  GROUP BY p.variant, p.baseline_run_id, CASE WHEN s.run_id = p.run_id THEN 'current' ELSE 'baseline' END,
    s.kind, s.name, s.position
),
bins AS (
  SELECT
    p.variant,
    CASE WHEN s.run_id = p.run_id THEN 'current' ELSE 'baseline' END AS side,
    s.kind, s.name, s.bin,
    sum(s.records) AS records
  FROM pairs p
  JOIN stats s ON s.variant = p.variant AND (s.run_id = p.run_id OR s.run_id = p.baseline_run_id)
  WHERE s.kind IN ('score', 'feature') AND s.bin IS NOT NULL
  GROUP BY p.variant, CASE WHEN s.run_id = p.run_id THEN 'current' ELSE 'baseline' END, s.kind, s.name, s.bin
),
baseline_groups AS (
  -- The baseline's deciles: each bin joins the group of the share of values below it.
  SELECT
    variant, kind, name, bin, records,
    least(
      CAST(floor(10 * CAST(coalesce(sum(records) OVER (
        PARTITION BY variant, kind, name ORDER BY bin ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
      ), 0) AS double) / sum(records) OVER (PARTITION BY variant, kind, name)) AS integer),
      9
    ) AS grp
  FROM bins
  WHERE side = 'baseline'
),
current_groups AS (
  -- A current bin joins the group of the nearest baseline bin at or below it (the lowest group below all).
  SELECT c.variant, c.kind, c.name, c.bin, c.records, coalesce(max(g.grp), 0) AS grp
  FROM bins c
  LEFT JOIN baseline_groups g ON g.variant = c.variant AND g.kind = c.kind AND g.name = c.name AND g.bin <= c.bin
  WHERE c.side = 'current'
  GROUP BY c.variant, c.kind, c.name, c.bin, c.records
),
baseline_shares AS (
  SELECT variant, kind, name, grp,
    CAST(sum(records) AS double) / sum(sum(records)) OVER (PARTITION BY variant, kind, name) AS share
  FROM baseline_groups
  GROUP BY variant, kind, name, grp
),
current_shares AS (
  SELECT variant, kind, name, grp,
    CAST(sum(records) AS double) / sum(sum(records)) OVER (PARTITION BY variant, kind, name) AS share
  FROM current_groups
  GROUP BY variant, kind, name, grp
),
psi AS (
  SELECT
    b.variant, b.kind, b.name,
    sum(
      (greatest(coalesce(c.share, 0), 0.0001) - greatest(b.share, 0.0001))
        * ln(greatest(coalesce(c.share, 0), 0.0001) / greatest(b.share, 0.0001))
    ) AS psi
  FROM baseline_shares b
  LEFT JOIN current_shares c ON c.variant = b.variant AND c.kind = b.kind AND c.name = b.name AND c.grp = b.grp
  GROUP BY b.variant, b.kind, b.name
)
SELECT
  cur.variant,
  cur.baseline_run_id,
  cur.kind,
  cur.name AS feature,
  cur.position,
  p.psi,
  p.psi > 0.2 AS drifted,
  cur.records,
  base.records AS baseline_records,
  CAST(cur.missing AS double) / cur.records AS missing_rate,
  CAST(base.missing AS double) / base.records AS baseline_missing_rate,
  CAST(cur.missing AS double) / cur.records - CAST(base.missing AS double) / base.records AS missing_rate_change,
  cur.mean,
  base.mean AS baseline_mean
FROM totals cur
JOIN totals base
  ON base.variant = cur.variant AND base.kind = cur.kind AND base.name = cur.name AND base.side = 'baseline'
LEFT JOIN psi p ON p.variant = cur.variant AND p.kind = cur.kind AND p.name = cur.name
WHERE cur.side = 'current'
ORDER BY cur.variant, cur.position
