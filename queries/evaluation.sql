-- Per variant of one run, the predictions measured against the true outcome (the run's actualColumn, stored as actual), one row per figure. Binary: the confusion matrix at the run's threshold (metric 'count', one row per actual_class x predicted_class), accuracy, precision, recall, f1 (of the positive class), roc_auc (rank-based, ties averaged, as scikit-learn) and log_loss (probabilities clipped to [eps, 1 - eps], eps = 2^-52, as scikit-learn 1.2). Multiclass: the confusion matrix and accuracy. Regression: mae, rmse, r2. Rows without an actual are left out; records says how many were measured. The model kind, threshold and positive class come from the run's statistics (<table>_stats).
-- parameters: run_id, run_id
WITH model AS (
  SELECT
    variant,
    max(CASE name WHEN 'multiclass' THEN 3 WHEN 'regression' THEN 2 ELSE 1 END) AS kind_rank,
    max(threshold) AS threshold,
    max(positive_label) AS positive_label,
    max(negative_label) AS negative_label
  FROM {{table}}_stats
  WHERE run_id = ? AND kind = 'model'
  GROUP BY variant
),
measured AS (
  SELECT
    r.variant,
    CASE m.kind_rank WHEN 3 THEN 'multiclass' WHEN 2 THEN 'regression' ELSE 'binary' END AS model_kind,
    r.score,
    r.label,
    r.actual,
    m.threshold,
    m.positive_label,
    m.negative_label
  FROM {{table}} r
  JOIN model m ON m.variant = r.variant
  WHERE r.run_id = ? AND r.actual IS NOT NULL
),
binary_rows AS (
  SELECT
    variant,
    score,
    positive_label,
    negative_label,
    CASE WHEN actual = positive_label THEN 1 ELSE 0 END AS y,
    CASE WHEN score >= threshold THEN 1 ELSE 0 END AS p
  FROM measured
  WHERE model_kind = 'binary' AND (actual = positive_label OR actual = negative_label)
),
binary_counts AS (
  SELECT
    variant,
    count(*) AS n,
    sum(y * p) AS tp,
    sum((1 - y) * p) AS fp,
    sum(y * (1 - p)) AS fn,
    sum((1 - y) * (1 - p)) AS tn,
    sum(y) AS positives,
    -avg(
      CASE
        WHEN y = 1 THEN ln(greatest(least(score, 1 - 2.220446049250313e-16), 2.220446049250313e-16))
        ELSE ln(1 - greatest(least(score, 1 - 2.220446049250313e-16), 2.220446049250313e-16))
      END
    ) AS log_loss
  FROM binary_rows
  GROUP BY variant
),
binary_ranks AS (
  -- Mann-Whitney: the AUC is the share of (positive, negative) pairs ranked in order, ties counting
  -- half, which is what averaging the ranks of tied scores gives.
  SELECT
    variant,
    y,
    CAST(rank() OVER (PARTITION BY variant ORDER BY score) AS double)
      + CAST(count(*) OVER (PARTITION BY variant, score) - 1 AS double) / 2 AS score_rank
  FROM binary_rows
),
binary_auc AS (
  SELECT
    c.variant,
    CASE
      WHEN c.positives = 0 OR c.positives = c.n THEN NULL
      ELSE (sum(CASE WHEN r.y = 1 THEN r.score_rank ELSE 0 END)
        - CAST(c.positives AS double) * (c.positives + 1) / 2)
        / (CAST(c.positives AS double) * (c.n - c.positives))
    END AS roc_auc
  FROM binary_counts c
  JOIN binary_ranks r ON r.variant = c.variant
  GROUP BY c.variant, c.positives, c.n
),
binary_matrix AS (
  SELECT
    variant,
    CASE WHEN y = 1 THEN positive_label ELSE negative_label END AS actual_class,
    CASE WHEN p = 1 THEN positive_label ELSE negative_label END AS predicted_class,
    count(*) AS records
  FROM binary_rows
  GROUP BY variant, y, p, positive_label, negative_label
),
class_rows AS (
  SELECT variant, actual, label
  FROM measured
  WHERE model_kind = 'multiclass'
),
regression_rows AS (
  SELECT variant, score, try_cast(actual AS double) AS y
  FROM measured
  WHERE model_kind = 'regression' AND try_cast(actual AS double) IS NOT NULL
),
regression_sums AS (
  SELECT
    variant,
    count(*) AS n,
    avg(abs(y - score)) AS mae,
    sqrt(avg((y - score) * (y - score))) AS rmse,
    sum((y - score) * (y - score)) AS ss_res,
    avg(y) AS mean_y
  FROM regression_rows
  GROUP BY variant
),
regression_r2 AS (
  SELECT
    s.variant,
    s.ss_res,
    sum((r.y - s.mean_y) * (r.y - s.mean_y)) AS ss_tot
  FROM regression_sums s
  JOIN regression_rows r ON r.variant = s.variant
  GROUP BY s.variant, s.ss_res
),
figures AS (
  SELECT variant, 'binary' AS model_kind, 1 AS ordinal, 'count' AS metric, actual_class, predicted_class,
    CAST(records AS double) AS value, records
  FROM binary_matrix
  UNION ALL
  SELECT variant, 'binary', 2, 'accuracy', NULL, NULL, CAST(tp + tn AS double) / n, n FROM binary_counts
  UNION ALL
  SELECT variant, 'binary', 3, 'precision', NULL, NULL,
    CASE WHEN tp + fp = 0 THEN 0 ELSE CAST(tp AS double) / (tp + fp) END, n
  FROM binary_counts
  UNION ALL
  SELECT variant, 'binary', 4, 'recall', NULL, NULL,
    CASE WHEN tp + fn = 0 THEN 0 ELSE CAST(tp AS double) / (tp + fn) END, n
  FROM binary_counts
  UNION ALL
  SELECT variant, 'binary', 5, 'f1', NULL, NULL,
    CASE WHEN 2 * tp + fp + fn = 0 THEN 0 ELSE CAST(2 * tp AS double) / (2 * tp + fp + fn) END, n
  FROM binary_counts
  UNION ALL
  SELECT c.variant, 'binary', 6, 'roc_auc', NULL, NULL, a.roc_auc, c.n
  FROM binary_counts c
  JOIN binary_auc a ON a.variant = c.variant
  UNION ALL
  SELECT variant, 'binary', 7, 'log_loss', NULL, NULL, log_loss, n FROM binary_counts
  UNION ALL
  SELECT variant, 'multiclass', 1, 'count', actual, label, CAST(count(*) AS double), count(*)
  FROM class_rows
  GROUP BY variant, actual, label
  UNION ALL
  SELECT variant, 'multiclass', 2, 'accuracy', NULL, NULL,
    avg(CASE WHEN actual = label THEN CAST(1 AS double) ELSE CAST(0 AS double) END), count(*)
  FROM class_rows
  GROUP BY variant
  UNION ALL
  SELECT variant, 'regression', 1, 'mae', NULL, NULL, mae, n FROM regression_sums
  UNION ALL
  SELECT variant, 'regression', 2, 'rmse', NULL, NULL, rmse, n FROM regression_sums
  UNION ALL
  SELECT r.variant, 'regression', 3, 'r2', NULL, NULL,
    CASE
      WHEN r.ss_tot = 0 THEN CASE WHEN r.ss_res = 0 THEN CAST(1 AS double) ELSE CAST(0 AS double) END
      ELSE 1 - r.ss_res / r.ss_tot
    END,
    s.n
  FROM regression_r2 r
  JOIN regression_sums s ON s.variant = r.variant
)
SELECT variant, model_kind, metric, actual_class, predicted_class, value, records
FROM figures
ORDER BY variant, ordinal, actual_class, predicted_class
