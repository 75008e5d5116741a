/**
 * The CreateTransformJob request and DescribeTransformJob response, in SageMaker's own field names, so
 * the same JSON goes to `sagemaker:createTransformJob.sync` on AWS and to the local transform engine.
 * Only the fields this pipeline reads or writes are typed; SageMaker's API reference is the authority.
 */

import type { TransformJobRequest as GeneratedTransformJobRequest } from '../generated/schema-types.js';

/**
 * The request's type is generated from schemas/transform-job-request.schema.json (`npm run
 * schema-types`), the schema the local engine validates requests with: one home for its shape.
 */
export type TransformJobRequest = GeneratedTransformJobRequest;
type Input = TransformJobRequest['TransformInput'];

export type SplitType = NonNullable<Input['SplitType']>;
export type BatchStrategy = NonNullable<TransformJobRequest['BatchStrategy']>;
export type AssembleWith = NonNullable<TransformJobRequest['TransformOutput']['AssembleWith']>;
export type CompressionType = NonNullable<Input['CompressionType']>;
export type JoinSource = NonNullable<NonNullable<TransformJobRequest['DataProcessing']>['JoinSource']>;
export type S3DataType = Input['DataSource']['S3DataSource']['S3DataType'];
export type TransformJobStatus = 'InProgress' | 'Completed' | 'Failed' | 'Stopping' | 'Stopped';

/** What DescribeTransformJob returns (and what `.sync` hands to the next state). */
export interface TransformJobDescription extends TransformJobRequest {
  TransformJobArn: string;
  TransformJobStatus: TransformJobStatus;
  FailureReason?: string;
  CreationTime: string;
  TransformStartTime?: string;
  TransformEndTime?: string;
}
