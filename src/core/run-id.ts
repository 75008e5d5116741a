import runRequestSchema from '../../schemas/run-request.schema.json' with { type: 'json' };

/**
 * What a run id may be: the one home is the `runId` pattern of schemas/run-request.schema.json (the
 * other schemas that carry a run id state the same pattern; test/unit/run-id.test.ts keeps them equal).
 * The CLI, `runs rm` and RecordFailure test ids with this rather than a pattern of their own.
 */
export const RUN_ID_PATTERN = new RegExp(runRequestSchema.properties.runId.pattern);

/** Whether `value` is a valid run id (a plain path segment: it names folders and partitions). */
export function isRunId(value: unknown): value is string {
  return typeof value === 'string' && RUN_ID_PATTERN.test(value);
}
