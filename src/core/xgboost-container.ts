/**
 * Facts about SageMaker's XGBoost algorithm container that both the local stand-in
 * (src/model-server) and the plan-time checks (run-checks.ts) rely on. A leaf module: the model
 * server imports it without pulling in the rest of core.
 */

/**
 * The container's Flask MAX_CONTENT_LENGTH unless the model's environment sets MAX_CONTENT_LENGTH:
 * 6 MiB. Bodies longer than this get 413 whatever the job's MaxPayloadInMB.
 */
export const XGBOOST_DEFAULT_MAX_CONTENT_LENGTH = 6 * 1024 * 1024;
