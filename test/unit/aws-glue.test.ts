import {
  BatchCreatePartitionCommand,
  BatchDeletePartitionCommand,
  BatchUpdatePartitionCommand,
  GetPartitionsCommand,
  GlueClient,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { GlueCatalog } from '../../src/aws/glue-catalog.js';
import { CatalogError, TransientError } from '../../src/errors.js';
import type { PartitionDefinition, TableDefinition } from '../../src/ports.js';

const glue = mockClient(GlueClient);
const catalog = () => new GlueCatalog(new GlueClient({ region: 'us-east-1' }));

const table: TableDefinition = {
  database: 'batch_pipeline_dev',
  name: 'predictions',
  location: 's3://bucket/results/predictions/',
  columns: [
    { name: 'record_id', type: 'string' },
    { name: 'score', type: 'double', comment: 'probability of labels[1]' },
  ],
  partitionKeys: [
    { name: 'run_date', type: 'string' },
    { name: 'run_id', type: 'string' },
    { name: 'variant', type: 'string' },
  ],
};

const partition = (n: number): PartitionDefinition => ({
  values: ['2024-05-01', `run-${n}`, 'a'],
  location: `s3://bucket/results/predictions/run_date=2024-05-01/run_id=run-${n}/variant=a/`,
});

const jsonStorage = (location: string) => ({
  Columns: [
    { Name: 'record_id', Type: 'string' },
    { Name: 'score', Type: 'double', Comment: 'probability of labels[1]' },
  ],
  Location: location,
  InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
  OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
  SerdeInfo: {
    SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
    Parameters: { 'ignore.malformed.json': 'FALSE' },
  },
});

beforeEach(() => {
  glue.reset();
});

// aws-sdk-client-mock only for answers moto cannot give (per-partition refusals, throttling, a partition
// created meanwhile, batch sizes). The table itself (create, update, left alone) is tested against
// moto_server in test/integration/aws-glue-table.test.ts, the location switch in aws-glue-switch.test.ts.
describe('GlueCatalog.switchRunPartitions, Glue answers moto cannot give', () => {
  beforeEach(() => {
    glue.on(GetPartitionsCommand).resolves({ Partitions: [] });
    // What a failed switch's put-back sends (deleting the partitions it tried to create).
    glue.on(BatchDeletePartitionCommand).resolves({ Errors: [] });
  });

  it('sends new partitions in batches of at most 100', async () => {
    glue.on(BatchCreatePartitionCommand).resolves({ Errors: [] });
    const partitions = Array.from({ length: 250 }, (_, n) => ({
      values: ['2024-05-01', 'run-1', `v${n}`],
      location: `s3://bucket/results/predictions/run_date=2024-05-01/run_id=run-1/variant=v${n}/`,
    }));

    await catalog().switchRunPartitions(table, ['2024-05-01', 'run-1'], partitions);

    const calls = glue.commandCalls(BatchCreatePartitionCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.PartitionInputList?.length)).toEqual([100, 100, 50]);
    expect(calls[0]).toMatchObject({ DatabaseName: 'batch_pipeline_dev', TableName: 'predictions' });
    expect(calls[2]?.PartitionInputList?.[49]).toEqual({
      Values: ['2024-05-01', 'run-1', 'v249'],
      StorageDescriptor: jsonStorage(
        's3://bucket/results/predictions/run_date=2024-05-01/run_id=run-1/variant=v249/',
      ),
    });
  });

  it('switches a partition created meanwhile by updating it instead of failing', async () => {
    glue.on(BatchCreatePartitionCommand).resolves({
      Errors: [
        {
          PartitionValues: ['2024-05-01', 'run-0', 'a'],
          ErrorDetail: { ErrorCode: 'AlreadyExistsException', ErrorMessage: 'Partition already exists.' },
        },
      ],
    });
    glue.on(BatchUpdatePartitionCommand).resolves({ Errors: [] });
    await catalog().switchRunPartitions(table, ['2024-05-01', 'run-0'], [partition(0)]);
    expect(glue.commandCalls(BatchUpdatePartitionCommand)[0]?.args[0].input.Entries).toEqual([
      {
        PartitionValueList: ['2024-05-01', 'run-0', 'a'],
        PartitionInput: {
          Values: ['2024-05-01', 'run-0', 'a'],
          StorageDescriptor: jsonStorage(partition(0).location),
        },
      },
    ]);
  });

  it('fails naming the partition when Glue refuses it for another reason', async () => {
    glue.on(BatchCreatePartitionCommand).resolves({
      Errors: [
        {
          PartitionValues: ['2024-05-01', 'run-1', 'a'],
          ErrorDetail: { ErrorCode: 'InvalidInputException', ErrorMessage: 'bad location' },
        },
      ],
    });
    const attempt = catalog().switchRunPartitions(table, ['2024-05-01', 'run-1'], [partition(1)]);
    await expect(attempt).rejects.toBeInstanceOf(CatalogError);
    await expect(
      catalog().switchRunPartitions(table, ['2024-05-01', 'run-1'], [partition(1)]),
    ).rejects.toThrow('[2024-05-01, run-1, a] InvalidInputException: bad location');
  });

  it('reports per-partition throttling as a TransientError', async () => {
    glue.on(BatchCreatePartitionCommand).resolves({
      Errors: [
        { PartitionValues: ['x'], ErrorDetail: { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow' } },
      ],
    });
    await expect(
      catalog().switchRunPartitions(table, ['2024-05-01', 'run-0'], [partition(0)]),
    ).rejects.toBeInstanceOf(TransientError);
  });
});
