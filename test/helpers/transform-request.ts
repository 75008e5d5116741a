import type { TransformJobRequest } from '../../src/core/transform-job.js';

/**
 * A CSV, Line-split transform job over `s3://bucket/in/` writing to `s3://bucket/out`: the base the engine
 * tests share; each test overrides what it is about.
 */
export function csvTransformRequest(overrides: Partial<TransformJobRequest> = {}): TransformJobRequest {
  return {
    TransformJobName: 'job-1',
    ModelName: 'model',
    TransformInput: {
      DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 's3://bucket/in/' } },
      ContentType: 'text/csv',
      SplitType: 'Line',
    },
    TransformOutput: { S3OutputPath: 's3://bucket/out', Accept: 'text/csv', AssembleWith: 'Line' },
    TransformResources: { InstanceType: 'local', InstanceCount: 1 },
    ...overrides,
  };
}
