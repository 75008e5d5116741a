import { describe, expect, it } from 'vitest';
import { looksLikeHeader, numberedColumns, readCsvHeader } from '../../src/core/csv-header.js';

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
  it("finds pandas' header of unnamed columns (a numpy array's DataFrame), with or without the index", () => {
    const numbers = Array.from({ length: 30 }, (_, i) => i).join(',');
    const row = Array.from({ length: 30 }, () => '0.5').join(',');
    expect(looksLikeHeader(numbers, row)).toBe(true);
    expect(looksLikeHeader(`,${numbers}`, `350,${row}`)).toBe(true);
    // All-integer data: 4 columns equal to their own positions are taken for the header.
    expect(looksLikeHeader('0,1,2,3', '5,3,0,1')).toBe(true);
  });
  it('takes 2 or 3 numbered columns for a header only when the next line writes one of them as a decimal', () => {
    expect(looksLikeHeader('0,1', '13.4,20.52')).toBe(true);
    expect(looksLikeHeader(',0,1,2', '7,13.4,,1')).toBe(true);
    expect(looksLikeHeader('0,1', '1,0')).toBe(false);
    expect(looksLikeHeader('0,1,2', '3,1,2')).toBe(false);
    // One column numbered 0 is as likely a first value of 0.
    expect(looksLikeHeader('0', '13.4')).toBe(false);
  });
  it('takes numbers that are not exactly 0,1,…,k-1 in order as data', () => {
    expect(looksLikeHeader('1,2,3,4', '0.5,0.5,0.5,0.5')).toBe(false);
    expect(looksLikeHeader('0,2,1,3', '0.5,0.5,0.5,0.5')).toBe(false);
    expect(looksLikeHeader('0.0,1.0,2.0,3.0', '0.5,0.5,0.5,0.5')).toBe(false);
    expect(looksLikeHeader('0,1,2,3', '0.5,0.5,0.5')).toBe(false);
  });
});

describe('numberedColumns', () => {
  it("counts pandas' numbered columns after an optional empty index field, or says 0", () => {
    expect(numberedColumns(['0', '1', '2'])).toBe(3);
    expect(numberedColumns(['', '0', '1'])).toBe(2);
    expect(numberedColumns(['', '1', '2'])).toBe(0);
    expect(numberedColumns(['index', '0', '1'])).toBe(0);
    expect(numberedColumns(['0', '1', 'x'])).toBe(0);
  });
});

describe('readCsvHeader', () => {
  it("names pandas' unnamed index column and says it is the index", () => {
    expect(readCsvHeader(',x,y')).toEqual({ columns: ['index', 'x', 'y'], indexColumn: 'index' });
    expect(readCsvHeader(',index,y')).toEqual({ columns: ['_index', 'index', 'y'], indexColumn: '_index' });
  });
  it('says when the columns are numbered (positions, not names), the index named as usual', () => {
    expect(readCsvHeader(',0,1')).toEqual({
      columns: ['index', '0', '1'],
      indexColumn: 'index',
      numbered: true,
    });
    expect(readCsvHeader('0,1')).toEqual({ columns: ['0', '1'], numbered: true });
    expect(readCsvHeader('a,0,1')).toEqual({ columns: ['a', '0', '1'] });
  });
  it('refuses an empty or repeated name after the first', () => {
    expect(() => readCsvHeader('a,,b')).toThrow('column 2 of the header has no name');
    expect(() => readCsvHeader('a,b,a')).toThrow('the header names column "a" twice');
  });
});
