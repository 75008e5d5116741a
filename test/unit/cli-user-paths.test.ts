import { describe, expect, it } from 'vitest';
import { userPaths } from '../../src/cli/output.js';

const COPY = 's3://local-pipeline/incoming/bad/bad.csv';
const LINKED = 's3://local-in-0123456789abcdef/';

describe('userPaths', () => {
  it("names the user's file and counts its lines, the header the copy dropped included", () => {
    const paths: [string, string, number][] = [[COPY, '/home/me/bad.csv', 1]];
    expect(
      userPaths(
        `Model container rejected ${COPY} line 3 (record 3 of the request for lines 1-3 (3 records)) with HTTP 415: Record 3 has a non-numeric value in field 1: "oops"`,
        paths,
      ),
    ).toBe(
      'Model container rejected /home/me/bad.csv line 4 (record 3 of the request for lines 2-4 (3 records)) with HTTP 415: Record 3 has a non-numeric value in field 1: "oops"',
    );
    expect(userPaths(`Invocation for ${COPY} line 7 (1 record) failed after 3 attempts`, paths)).toBe(
      'Invocation for /home/me/bad.csv line 8 (1 record) failed after 3 attempts',
    );
    // ParseResults: the input's line shifts, the transform output's own lines do not.
    expect(
      userPaths(
        `${COPY}: 3 records but 2 predictions in s3://local-pipeline/runs/bad/x.out; input line 3 is the first with no prediction`,
        paths,
      ),
    ).toBe(
      '/home/me/bad.csv: 3 records but 2 predictions in s3://local-pipeline/runs/bad/x.out; input line 4 is the first with no prediction',
    );
    expect(userPaths(`s3://local-pipeline/runs/bad/x.out, line 2: prediction NaN is not finite`, paths)).toBe(
      's3://local-pipeline/runs/bad/x.out, line 2: prediction NaN is not finite',
    );
    // Blank lines before the header were dropped too.
    expect(userPaths(`${COPY} line 1: bad`, [[COPY, '/home/me/bad.csv', 3]])).toBe(
      '/home/me/bad.csv line 4: bad',
    );
  });

  it('keeps the line numbers of a file read in place', () => {
    expect(userPaths(`Model container rejected ${LINKED}a.csv line 3 (…)`, [[LINKED, '/data/']])).toBe(
      'Model container rejected /data/a.csv line 3 (…)',
    );
  });
});
