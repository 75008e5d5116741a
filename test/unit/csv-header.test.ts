import { describe, expect, it } from 'vitest';
import { looksLikeHeader, readCsvHeader } from '../../src/core/csv-header.js';

describe('looksLikeHeader', () => {
  it("finds pandas' default header (unnamed index first) over numeric data", () => {
    expect(looksLikeHeader(',mean radius,mean texture', '350,11.66,17.07')).toBe(true);
  });
  it('finds a header over data whose id column is text', () => {
    expect(looksLikeHeader('patient_id,mean radius', 'p0350,11.66')).toBe(true);
  });
  it('takes a numeric first line, empty cells and nan as data', () => {
    expect(looksLikeHeader('1,2,3', '4,5,6')).toBe(false);
    expect(looksLikeHeader('1,,nan', '4,5,6')).toBe(false);
    expect(looksLikeHeader('1,-inf,2e-3', '4,5,6')).toBe(false);
  });
  it('says no without a data line, or when the field counts differ, or when text is under text', () => {
    expect(looksLikeHeader('a,b', undefined)).toBe(false);
    expect(looksLikeHeader('a,b', '1,2,3')).toBe(false);
    expect(looksLikeHeader('abc,1', 'def,2')).toBe(false);
  });
  it('reads quoted names with commas, as pandas writes them', () => {
    expect(looksLikeHeader('"a,b",c', '1,2')).toBe(true);
  });
});

describe('readCsvHeader', () => {
  it("names pandas' unnamed index column and says it is the index", () => {
    expect(readCsvHeader(',x,y')).toEqual({ columns: ['index', 'x', 'y'], indexColumn: 'index' });
    expect(readCsvHeader(',index,y')).toEqual({ columns: ['_index', 'index', 'y'], indexColumn: '_index' });
  });
  it('refuses an empty or repeated name after the first', () => {
    expect(() => readCsvHeader('a,,b')).toThrow('column 2 of the header has no name');
    expect(() => readCsvHeader('a,b,a')).toThrow('the header names column "a" twice');
  });
});
