import { describe, expect, it } from 'vitest';
import {
  isJsonLines,
  mediaType,
  mediaTypeParameters,
  recordFormatOf,
  resultsFormatOf,
  xgboostRequestFormatOf,
} from '../../src/core/media-types.js';
import { checkRunRequest } from '../../src/core/run-checks.js';
import { parseAccept } from '../../src/model-server/encoding.js';

describe('mediaType', () => {
  it('drops parameters, trims and lower-cases (media types are case-insensitive, RFC 9110 8.3.1)', () => {
    expect(mediaType('text/csv')).toBe('text/csv');
    expect(mediaType(' Text/CSV ; charset=utf-8')).toBe('text/csv');
    expect(mediaType('APPLICATION/JSONLINES;')).toBe('application/jsonlines');
    expect(mediaType('')).toBe('');
  });

  it('reads parameters with their names lower-cased and values as written', () => {
    expect(mediaTypeParameters('text/csv; Label_Size=1;charset = UTF-8')).toEqual({
      label_size: '1',
      charset: 'UTF-8',
    });
    expect(mediaTypeParameters('text/csv')).toEqual({});
  });
});

describe('the formats each reader takes a type as', () => {
  it('sorts types the way each reader documents', () => {
    const cases: [
      string,
      ReturnType<typeof recordFormatOf>,
      ReturnType<typeof resultsFormatOf>,
      string | undefined,
    ][] = [
      ['text/csv', 'csv', 'csv', 'csv'],
      ['Text/CSV; header=absent', 'csv', 'csv', 'csv'],
      ['csv', undefined, undefined, 'csv'],
      ['application/json', 'json', 'jsonlines', undefined],
      ['application/jsonlines', 'json', 'jsonlines', undefined],
      ['application/x-jsonlines', 'json', undefined, undefined],
      ['text/libsvm', undefined, undefined, 'libsvm'],
      ['text/x-libsvm', undefined, undefined, 'libsvm'],
      ['application/x-recordio-protobuf', undefined, undefined, undefined],
    ];
    for (const [type, record, results, xgboost] of cases) {
      expect([recordFormatOf(type), resultsFormatOf(type), xgboostRequestFormatOf(type)], type).toEqual([
        record,
        results,
        xgboost,
      ]);
    }
    expect(
      ['application/jsonlines', 'Application/X-JSONLines', 'application/jsonl'].map(isJsonLines),
    ).toEqual([true, true, true]);
    expect(isJsonLines('application/json')).toBe(false);
  });

  it('makes every caller agree on a mixed-case type with parameters', () => {
    const request = {
      input: 's3://in-bucket/incoming/',
      models: [{ variant: 'a', image: 'builtin:xgboost', modelDataUrl: 's3://m/model.tar.gz' }],
      transform: { ContentType: 'Text/CSV; charset=utf-8', Accept: 'TEXT/CSV' },
    };
    expect(checkRunRequest(request)).toEqual({ warnings: [] });
    const settings = { defaultAccept: 'text/csv' } as Parameters<typeof parseAccept>[1];
    expect(parseAccept('Application/JSON; charset=utf-8', settings)).toBe('application/json');
  });
});
