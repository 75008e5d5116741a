/**
 * GlueCatalog.registerTable against moto_server's Glue: the results table as Glue stores it (compared
 * with AWS's documented shape, written out by hand), updated when its definition changed, and left
 * alone when it did not, so runs do not pile up table versions. (Throttling and per-partition refusals,
 * which moto cannot produce, stay in test/unit/aws-glue.test.ts.)
 */
import {
  CreateDatabaseCommand,
  GetTableCommand,
  GetTableVersionsCommand,
  GlueClient,
} from '@aws-sdk/client-glue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GlueCatalog } from '../../src/aws/glue-catalog.js';
import type { TableDefinition } from '../../src/ports.js';
import { MOTO_CREDENTIALS, MOTO_REGION, type Moto, startMoto, uniqueName } from '../helpers/moto.js';

let moto: Moto;
let glue: GlueClient;
let database: string;

beforeAll(async () => {
  moto = await startMoto();
  glue = new GlueClient({ endpoint: moto.endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS });
  database = uniqueName('tables').replaceAll('-', '_');
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } }));
}, 60_000);

afterAll(async () => {
  glue?.destroy();
  await moto?.stop();
});

const definition = (name: string, location: string): TableDefinition => ({
  database,
  name,
  location,
  columns: [
    { name: 'record_id', type: 'string' },
    { name: 'score', type: 'double', comment: 'probability of labels[1]' },
  ],
  partitionKeys: [
    { name: 'run_date', type: 'string' },
    { name: 'run_id', type: 'string' },
    { name: 'variant', type: 'string' },
  ],
});

/**
 * The table as Glue should hold it, written by hand from AWS's documented shape (Glue API, TableInput;
 * Athena's "Creating tables" for the OpenX JSON SerDe), not from the product's glueTableInput.
 */
const expectedTable = (location: string) => ({
  TableType: 'EXTERNAL_TABLE',
  Parameters: { EXTERNAL: 'TRUE', classification: 'json', typeOfData: 'file' },
  PartitionKeys: [
    { Name: 'run_date', Type: 'string' },
    { Name: 'run_id', Type: 'string' },
    { Name: 'variant', Type: 'string' },
  ],
  StorageDescriptor: {
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
  },
});

const stored = async (name: string) => {
  const table = (await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }))).Table;
  return {
    TableType: table?.TableType,
    Parameters: table?.Parameters,
    PartitionKeys: table?.PartitionKeys,
    StorageDescriptor: table?.StorageDescriptor,
  };
};
const versions = async (name: string) =>
  (await glue.send(new GetTableVersionsCommand({ DatabaseName: database, TableName: name }))).TableVersions
    ?.length ?? 0;

describe('GlueCatalog.registerTable (moto)', () => {
  it('creates an external JSON table read with the OpenX JSON SerDe, partitioned by run', async () => {
    await new GlueCatalog(glue).registerTable(definition('created', 's3://bucket/results/created/'));

    expect(await stored('created')).toEqual(expectedTable('s3://bucket/results/created/'));
  });

  it('updates the table when its definition changed, and leaves an identical one alone', async () => {
    const catalog = new GlueCatalog(glue);
    await catalog.registerTable(definition('moved', 's3://old-bucket/results/moved/'));
    const before = await versions('moved');

    await catalog.registerTable(definition('moved', 's3://bucket/results/moved/'));

    expect(await stored('moved')).toEqual(expectedTable('s3://bucket/results/moved/'));
    const afterUpdate = await versions('moved');
    expect(afterUpdate).toBe(before + 1);

    await catalog.registerTable(definition('moved', 's3://bucket/results/moved/'));

    expect(await versions('moved')).toBe(afterUpdate);
  });
});
