import { describe, expect, it } from 'vitest';
import { checkRunRequest } from '../../src/core/run-checks.js';
import { applyRunDefaults } from '../../src/core/run-defaults.js';
import type { RunRequest } from '../../src/core/run-request.js';
import { InvalidInputError } from '../../src/errors.js';

const base: RunRequest = {
  input: 's3://bucket/in/',
  models: [{ variant: 'xgb', image: 'builtin:xgboost', modelDataUrl: 's3://bucket/model.tar.gz' }],
} as RunRequest;

function withTransform(transform: RunRequest['transform'], models = base.models): RunRequest {
  return { ...base, models, transform } as RunRequest;
}

/** As BuildManifest calls it: on the request with its defaults applied. */
function check(request: RunRequest) {
  return checkRunRequest(applyRunDefaults(request));
}

describe('checkRunRequest', () => {
  it('accepts the defaults and returns no warnings', () => {
    expect(check(base)).toEqual({ warnings: [] });
  });

  it("refuses JSONPath AWS refuses: over 63 characters, multi-range slices, '_' in names for JSON lines", () => {
    const long = `$[${Array.from({ length: 30 }, (_, i) => i).join(',')}]`;
    const cases: [RunRequest['transform'], RegExp][] = [
      [{ DataProcessing: { InputFilter: long } }, /InputFilter is \d+ characters; AWS allows at most 63/],
      [
        { DataProcessing: { InputFilter: '$[0:2,246:]' } },
        /"\$\[0:2,246:\]" combines a slice with other members.*AWS rejects multi-range/,
      ],
      [
        { ContentType: 'application/jsonlines', DataProcessing: { InputFilter: '$.features_all' } },
        /names "features_all"; AWS rejects "_" in JSONPath member names for application\/jsonlines/,
      ],
    ];
    const other = [{ variant: 'other', modelName: 'm' }] as RunRequest['models'];
    for (const [transform, message] of cases) {
      expect(() => check(withTransform(transform, other))).toThrow(InvalidInputError);
      expect(() => check(withTransform(transform, other))).toThrow(message);
    }
    expect(() =>
      check(withTransform({ DataProcessing: { InputFilter: '$.features_all' } }, other)),
    ).not.toThrow();
  });

  it('refuses JSON input to the XGBoost container and an OutputFilter, naming the fields', () => {
    expect(() => check(withTransform({ ContentType: 'application/json' }))).toThrow(
      /transform.ContentType application\/json: the SageMaker XGBoost container \(variant "xgb"\) reads text\/csv and text\/libsvm only/,
    );
    expect(() => check(withTransform({ DataProcessing: { OutputFilter: '$[0,-1]' } }))).toThrow(
      /transform.DataProcessing.OutputFilter "\$\[0,-1\]"/,
    );
  });

  it("warns when MaxPayloadInMB passes the XGBoost container's MAX_CONTENT_LENGTH, unless the environment raises it", () => {
    const { warnings } = check(withTransform({ MaxPayloadInMB: 20 }));
    const raised = check(
      withTransform({ MaxPayloadInMB: 20, Environment: { MAX_CONTENT_LENGTH: String(20 * 1024 * 1024) } }),
    );

    expect(warnings).toEqual([
      expect.stringMatching(
        /MaxPayloadInMB 20: .* refuses requests over 6 MiB \(MAX_CONTENT_LENGTH\) with 413/,
      ),
    ]);
    expect(raised.warnings).toEqual([]);
  });
});
