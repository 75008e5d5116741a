import definitions from '../../schemas/definitions.schema.json' with { type: 'json' };

/**
 * What a run id may be: the one home is the `runId` definition of schemas/definitions.schema.json, which
 * every schema carrying a run id refers to (test/unit/run-id.test.ts checks that none states its own).
 * The CLI, `runs rm` and RecordFailure test ids with this rather than a pattern of their own.
 */
export const RUN_ID_PATTERN = new RegExp(definitions.definitions.runId.pattern);

/** Whether `value` is a valid run id (a plain path segment: it names folders and partitions). */
export function isRunId(value: unknown): value is string {
  return typeof value === 'string' && RUN_ID_PATTERN.test(value);
}
