import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { SchemaValidationError } from '../../src/errors.js';
import { validation } from '../../src/middleware/validation.js';

const context = {} as Context;

/** A Lambda wired like every step: validation first, one core call last. */
function lambda(core: (event: unknown) => unknown) {
  const calls: unknown[] = [];
  const handler = middy<unknown, unknown>()
    .use(
      validation({
        event: 'record-failure-event',
        eventName: 'RecordFailure event',
        // Any schema will do for the result; this one is small and stable.
        result: 'record-failure-event',
        resultName: 'RecordFailure result',
      }),
    )
    .handler(async (event) => {
      calls.push(event);
      return core(event);
    });
  return { handler, calls };
}

const goodEvent = { executionName: 'exec-1', state: { failure: { Error: 'X', Cause: 'y' } } };

describe('validation middleware', () => {
  it('refuses an event that fails its schema before the handler runs, naming each field', async () => {
    const { handler, calls } = lambda(() => ({}));
    const error = await handler({ executionName: '', state: {} }, context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaValidationError);
    expect((error as SchemaValidationError).name).toBe('SchemaValidationError');
    expect((error as Error).message).toBe(
      "Invalid RecordFailure event: /executionName must NOT have fewer than 1 characters; /state must have required property 'failure'",
    );
    expect(calls).toEqual([]);
  });

  it('refuses a result that fails its schema, after the handler ran, naming the result', async () => {
    const { handler, calls } = lambda(() => ({ unexpected: true }));
    const error = await handler(goodEvent, context).catch((e: unknown) => e);
    expect(calls).toEqual([goodEvent]);
    expect(error).toBeInstanceOf(SchemaValidationError);
    expect((error as Error).message).toBe(
      "Invalid RecordFailure result: (root) must have required property 'executionName'; (root) must have required property 'state'",
    );
  });

  it('passes a valid event to the handler and returns its valid result unchanged', async () => {
    const result = { executionName: 'exec-2', state: { failure: {} } };
    const { handler, calls } = lambda(() => result);
    expect(await handler(goodEvent, context)).toBe(result);
    expect(calls).toEqual([goodEvent]);
  });
});
