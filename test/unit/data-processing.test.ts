import { describe, expect, it } from 'vitest';
import {
  compileDataProcessing,
  compileJsonPath,
  countPredictions,
  dataProcessingErrors,
  formatCsvRecord,
  parseCsvRecord,
  splitPredictions,
} from '../../src/core/data-processing.js';

const b = (s: string) => Buffer.from(s);
const s = (u: Uint8Array) => Buffer.from(u).toString();

describe('compileJsonPath', () => {
  it('selects CSV columns as SageMaker documents: slices, index lists and negative indexes', () => {
    const row = ['id', 'f1', 'f2', 'f3', 'f4', 'f5'];
    expect(compileJsonPath('$[1:]')(row)).toEqual(['f1', 'f2', 'f3', 'f4', 'f5']);
    expect(compileJsonPath('$[0,2]')(row)).toEqual(['id', 'f2']);
    expect(compileJsonPath('$[0,-1]')(row)).toEqual(['id', 'f5']);
    expect(compileJsonPath('$[-2]')(row)).toBe('f4');
    expect(compileJsonPath('$[2:5]')(row)).toEqual(['f2', 'f3', 'f4']);
    expect(compileJsonPath('$[0,5:]')(row)).toEqual(['id', 'f5']);
  });

  it('selects JSON members, including a quoted union that keeps the names', () => {
    const record = {
      id: 7,
      features: [1, 2],
      SageMakerOutput: { label: 1 },
      field1: { child1: 1, child2: 2, c: 3 },
    };
    expect(compileJsonPath('$.features')(record)).toEqual([1, 2]);
    expect(compileJsonPath("$['id','SageMakerOutput']")(record)).toEqual({
      id: 7,
      SageMakerOutput: { label: 1 },
    });
    expect(compileJsonPath("$.field1.['child1','child2']")(record)).toEqual({ child1: 1, child2: 2 });
  });

  it('fails on an index outside the record and on a path that selects nothing', () => {
    expect(() => compileJsonPath('$[0,9]')(['a', 'b'])).toThrow(/names 2 elements but the record has only 1/);
    expect(() => compileJsonPath('$.missing')({ id: 1 })).toThrow(/selects nothing/);
  });

  it('rejects operators Batch Transform does not support', () => {
    expect(() => compileJsonPath('$..id')).toThrow(/does not support/);
    expect(() => compileJsonPath('$[?(@.a>1)]')).toThrow(/does not support/);
    expect(() => compileJsonPath('id')).toThrow(/must start with \$/);
  });
});

describe('CSV records', () => {
  it('parses quoted fields and formats them back with quotes only where needed', () => {
    const fields = parseCsvRecord(b('1,"a, b","say ""hi"""'));
    expect(fields).toEqual(['1', 'a, b', 'say "hi"']);
    expect(formatCsvRecord(fields)).toBe('1,"a, b","say ""hi"""');
    expect(formatCsvRecord(['1', '2'])).toBe('1,2');
  });
});

describe('compileDataProcessing', () => {
  it('sends the features and writes id plus prediction (SageMaker CSV example)', () => {
    const p = compileDataProcessing(
      { InputFilter: '$[1:]', JoinSource: 'Input', OutputFilter: '$[0,-1]' },
      { inputFormat: 'csv', outputFormat: 'csv' },
    );
    expect(s(p.filterInput(b('id7,1.5,"x,y"')))).toBe('1.5,"x,y"');
    expect(p.assembleOutput(b('id7,1.5,"x,y"'), b('0.9'))).toBe('id7,0.9');
  });

  it('appends the prediction columns to the CSV input with JoinSource Input', () => {
    const p = compileDataProcessing({ JoinSource: 'Input' }, { inputFormat: 'csv', outputFormat: 'csv' });
    expect(p.assembleOutput(b('1,2,3'), b('1'))).toBe('1,2,3,1');
  });

  it('puts the prediction under SageMakerOutput and keeps id (SageMaker JSON example)', () => {
    const p = compileDataProcessing(
      { InputFilter: '$.features', JoinSource: 'Input', OutputFilter: "$['id','SageMakerOutput']" },
      { inputFormat: 'json', outputFormat: 'json' },
    );
    expect(s(p.filterInput(b('{"id":1,"features":[0.5,2]}')))).toBe('[0.5,2]');
    expect(p.assembleOutput(b('{"id":1,"features":[0.5,2]}'), b('{"label":1}'))).toBe(
      '{"id":1,"SageMakerOutput":{"label":1}}',
    );
  });

  it('wraps a non-object JSON input under SageMakerInput', () => {
    const p = compileDataProcessing({ JoinSource: 'Input' }, { inputFormat: 'json', outputFormat: 'csv' });
    expect(p.assembleOutput(b('[1,2]'), b('0.25'))).toBe('{"SageMakerInput":[1,2],"SageMakerOutput":0.25}');
  });

  it('filters the prediction alone when there is no join', () => {
    const p = compileDataProcessing({ OutputFilter: '$[1]' }, { inputFormat: 'csv', outputFormat: 'csv' });
    expect(p.assembleOutput(undefined, b('0.1,0.9'))).toBe('0.9');
  });

  it('changes nothing with the documented defaults', () => {
    const p = compileDataProcessing(
      { InputFilter: '$', JoinSource: 'None', OutputFilter: '$' },
      { inputFormat: 'csv' },
    );
    expect(p.filtersInput).toBe(false);
    expect(p.rewritesOutput).toBe(false);
  });
});

describe('dataProcessingErrors', () => {
  const base = {
    TransformInput: { ContentType: 'text/csv', SplitType: 'Line' },
    TransformOutput: { Accept: 'text/csv', AssembleWith: 'Line' },
  };

  it('accepts a join over CSV lines assembled by line', () => {
    expect(dataProcessingErrors({ ...base, DataProcessing: { JoinSource: 'Input' } })).toEqual([]);
  });

  it('requires SplitType Line and AssembleWith Line for a join', () => {
    const errors = dataProcessingErrors({
      DataProcessing: { JoinSource: 'Input' },
      TransformInput: { ContentType: 'text/csv', SplitType: 'None' },
      TransformOutput: { Accept: 'text/csv', AssembleWith: 'None' },
    });
    expect(errors.join('\n')).toMatch(/SplitType Line \(got None\)/);
    expect(errors.join('\n')).toMatch(/AssembleWith Line \(got None\)/);
  });

  it('requires CSV or JSON content types', () => {
    const errors = dataProcessingErrors({
      DataProcessing: { InputFilter: '$[1:]' },
      TransformInput: { ContentType: 'application/x-recordio', SplitType: 'Line' },
      TransformOutput: {},
    });
    expect(errors.join('\n')).toMatch(/ContentType text\/csv/);
  });
});

describe('splitPredictions', () => {
  it('takes one line per record, tolerating CRLF and a final newline', () => {
    const split = splitPredictions(b('0.1\r\n0.2\r\n'), 2, 'csv');
    expect(split.ok && split.predictions.map(s)).toEqual(['0.1', '0.2']);
  });

  it('takes the elements of a single JSON array answer', () => {
    const split = splitPredictions(b('[{"score":0.1},{"score":0.2}]'), 2, 'json');
    expect(split.ok && split.predictions.map(s)).toEqual(['{"score":0.1}', '{"score":0.2}']);
  });

  it('reports how many predictions came when they do not match the records', () => {
    expect(splitPredictions(b('0.1\n0.2\n0.3\n'), 2, 'csv')).toEqual({ ok: false, received: 3 });
    expect(countPredictions(b('0.1\n'), 2, 'csv')).toBe(1);
    expect(countPredictions(b(''), 1, 'csv')).toBe(0);
  });
});
