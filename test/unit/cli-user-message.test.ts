import { describe, expect, it } from 'vitest';
import { inUserTerms, nameFields } from '../../src/cli/user-message.js';

const COPY = 's3://local-pipeline/runs/r/attempts/0123456789ab/input/x.csv';
const COLUMNS = ['', 'mean radius', 'mean texture', 'age'];
const FIX = 'The model reads numbers only: write a number there, or leave the cell empty for a missing value';

describe('nameFields', () => {
  it("names the header's column and counts the field in the user's line, the index column kept from the model", () => {
    expect(
      nameFields('Record 2 has a non-numeric value in field 3: "n/a"', {
        columns: COLUMNS,
        inputFilter: '$[1:]',
      }),
    ).toBe(
      `Record 2 has a non-numeric value in column "age" (field 4): "n/a". ${FIX} ` +
        '(pandas: df["age"] = pd.to_numeric(df["age"], errors="coerce"))',
    );
  });

  it('counts fields as they are without an InputFilter', () => {
    expect(
      nameFields('Record 1 has a non-numeric value in field 2: "Paris"', { columns: ['a', 'city', 'b'] }),
    ).toBe(
      `Record 1 has a non-numeric value in column "city" (field 2): "Paris". ${FIX} ` +
        '(pandas: df["city"] = pd.to_numeric(df["city"], errors="coerce"))',
    );
  });

  it('keeps the field number when there is no header, and still says the fix', () => {
    expect(nameFields('Record 4 has a non-numeric value in field 6: "abc"', {})).toBe(
      `Record 4 has a non-numeric value in field 6: "abc". ${FIX}`,
    );
  });

  it("gives pandas' numbered columns no name, only their place in the line", () => {
    expect(
      nameFields('Record 4 has a non-numeric value in field 1: "abc"', {
        columns: ['', '0', '1'],
        numbered: true,
        inputFilter: '$[1:]',
      }),
    ).toBe(`Record 4 has a non-numeric value in field 2: "abc". ${FIX}`);
  });

  it('keeps the quoted value whole, and leaves a message already in the user terms as it is', () => {
    const once = nameFields(
      'Record 1 has a non-numeric value in field 1: "say \\"hi\\"" (child execution 0)',
      {
        columns: ['note'],
      },
    );
    expect(once).toBe(
      `Record 1 has a non-numeric value in column "note" (field 1): "say \\"hi\\"". ${FIX} ` +
        '(pandas: df["note"] = pd.to_numeric(df["note"], errors="coerce")) (child execution 0)',
    );
    expect(nameFields(once, { columns: ['note'] })).toBe(once);
    const bare = nameFields('Record 4 has a non-numeric value in field 6: "abc"', {});
    expect(nameFields(bare, {})).toBe(bare);
  });
});

describe('inUserTerms', () => {
  it("names the user's file, its line (the header counted) and the column", () => {
    expect(
      inUserTerms(
        `Model container rejected ${COPY} line 11 (record 11 of the request for lines 1-40 (40 records)) with HTTP 415: Loading csv data failed: Record 11 has a non-numeric value in field 2: "n/a"`,
        { paths: [[COPY, '/home/me/x.csv', 1]], columns: COLUMNS, inputFilter: '$[1:]' },
      ),
    ).toBe(
      'Model container rejected /home/me/x.csv line 12 (record 11 of the request for lines 2-41 (40 records)) with HTTP 415: Loading csv data failed: ' +
        `Record 11 has a non-numeric value in column "mean texture" (field 3): "n/a". ${FIX} ` +
        '(pandas: df["mean texture"] = pd.to_numeric(df["mean texture"], errors="coerce"))',
    );
  });
});
