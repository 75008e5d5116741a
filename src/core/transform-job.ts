/**
 * The CreateTransformJob request and DescribeTransformJob response, in SageMaker's own field names, so
 * the same JSON goes to `sagemaker:createTransformJob.sync` on AWS and to the local transform engine.
 * Only the fields this pipeline reads or writes are typed; SageMaker's API reference is the authority.
 */

export type SplitType = 'None' | 'Line' | 'RecordIO' | 'TFRecord';
export type BatchStrategy = 'SingleRecord' | 'MultiRecord';
export type AssembleWith = 'None' | 'Line';
export type CompressionType = 'None' | 'Gzip';
export type JoinSource = 'Input' | 'None';
export type S3DataType = 'S3Prefix' | 'ManifestFile' | 'AugmentedManifestFile';
export type TransformJobStatus = 'InProgress' | 'Completed' | 'Failed' | 'Stopping' | 'Stopped';

export interface TransformJobRequest {
  TransformJobName: string;
  ModelName: string;
  MaxConcurrentTransforms?: number;
  ModelClientConfig?: {
    InvocationsTimeoutInSeconds?: number;
    InvocationsMaxRetries?: number;
  };
  MaxPayloadInMB?: number;
  BatchStrategy?: BatchStrategy;
  Environment?: Record<string, string>;
  TransformInput: {
    DataSource: { S3DataSource: { S3DataType: S3DataType; S3Uri: string } };
    ContentType?: string;
    CompressionType?: CompressionType;
    SplitType?: SplitType;
  };
  TransformOutput: {
    S3OutputPath: string;
    Accept?: string;
    AssembleWith?: AssembleWith;
    KmsKeyId?: string;
  };
  TransformResources: {
    InstanceType: string;
    InstanceCount: number;
    VolumeKmsKeyId?: string;
  };
  DataProcessing?: {
    InputFilter?: string;
    OutputFilter?: string;
    JoinSource?: JoinSource;
  };
  Tags?: { Key: string; Value: string }[];
}

/** What DescribeTransformJob returns (and what `.sync` hands to the next state). */
export interface TransformJobDescription extends TransformJobRequest {
  TransformJobArn: string;
  TransformJobStatus: TransformJobStatus;
  FailureReason?: string;
  CreationTime: string;
  TransformStartTime?: string;
  TransformEndTime?: string;
}
