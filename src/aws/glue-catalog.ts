import {
  BatchCreatePartitionCommand,
  type Column,
  CreateTableCommand,
  GetTableCommand,
  type GlueClient,
  type PartitionInput,
  type StorageDescriptor,
  type TableInput,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { gluePartitionInput, glueTableInput } from '../core/results-table.js';
import { CatalogError, TransientError } from '../errors.js';
import type { Catalog, PartitionDefinition, TableDefinition } from '../ports.js';
import { errorNameOf, rethrowSdkError } from './sdk-errors.js';

/** BatchCreatePartition takes at most 100 partitions per call. */
export const GLUE_PARTITION_BATCH_SIZE = 100;

// Glue error codes a later attempt may get past.
const TRANSIENT_GLUE_CODES = new Set([
  'ThrottlingException',
  'InternalServiceException',
  'OperationTimeoutException',
  'ConcurrentModificationException',
  'ResourceNumberLimitExceededException',
]);

/**
 * The Catalog port over the Glue Data Catalog: results tables are external JSON tables partitioned by
 * run date, run id and variant, which Athena queries.
 */
export class GlueCatalog implements Catalog {
  private readonly client: GlueClient;

  constructor(client: GlueClient) {
    this.client = client;
  }

  /**
   * Creates the table; when it exists, compares it with the definition and updates it only when
   * something differs, so every run does not add a Glue table version.
   */
  async registerTable(table: TableDefinition): Promise<void> {
    const input = tableInput(table);
    try {
      await this.client.send(new CreateTableCommand({ DatabaseName: table.database, TableInput: input }));
      return;
    } catch (error) {
      if (errorNameOf(error) !== 'AlreadyExistsException') {
        rethrowSdkError(error, `Glue CreateTable ${table.database}.${table.name}`);
      }
    }
    const existing = await this.send(
      () => this.client.send(new GetTableCommand({ DatabaseName: table.database, Name: table.name })),
      `Glue GetTable ${table.database}.${table.name}`,
    );
    if (existing.Table && sameDefinition(existing.Table, input)) return;
    await this.send(
      () => this.client.send(new UpdateTableCommand({ DatabaseName: table.database, TableInput: input })),
      `Glue UpdateTable ${table.database}.${table.name}`,
    );
  }

  /**
   * Adds partitions in batches of 100. A partition that exists already counts as added (runs are
   * re-runnable); any other per-partition error fails the call, transient ones as TransientError.
   *
   * @throws CatalogError naming every partition Glue refused and why.
   */
  async addPartitions(table: TableDefinition, partitions: PartitionDefinition[]): Promise<void> {
    for (let start = 0; start < partitions.length; start += GLUE_PARTITION_BATCH_SIZE) {
      const batch = partitions.slice(start, start + GLUE_PARTITION_BATCH_SIZE);
      const output = await this.send(
        () =>
          this.client.send(
            new BatchCreatePartitionCommand({
              DatabaseName: table.database,
              TableName: table.name,
              PartitionInputList: batch.map(
                (partition) => gluePartitionInput(table, partition) as PartitionInput,
              ),
            }),
          ),
        `Glue BatchCreatePartition ${table.database}.${table.name}`,
      );
      const failures = (output.Errors ?? []).filter(
        (entry) => entry.ErrorDetail?.ErrorCode !== 'AlreadyExistsException',
      );
      if (failures.length === 0) continue;
      const details = failures.map(
        (entry) =>
          `[${(entry.PartitionValues ?? []).join(', ')}] ${entry.ErrorDetail?.ErrorCode ?? 'Error'}: ${
            entry.ErrorDetail?.ErrorMessage ?? 'no message'
          }`,
      );
      const message = `Glue refused ${failures.length} partition(s) of ${table.database}.${table.name}: ${details.join('; ')}`;
      const allTransient = failures.every((entry) =>
        TRANSIENT_GLUE_CODES.has(entry.ErrorDetail?.ErrorCode ?? ''),
      );
      throw allTransient ? new TransientError(message) : new CatalogError(message);
    }
  }

  private async send<T>(call: () => Promise<T>, what: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      rethrowSdkError(error, what);
    }
  }
}

/**
 * The Glue TableInput for a results table: the core's definition (src/core/results-table.ts), so the
 * Glue table, the local DuckDB view and the documented DDL cannot drift apart.
 */
export function tableInput(table: TableDefinition): TableInput {
  return glueTableInput(table) as TableInput;
}

function sameDefinition(
  existing: {
    Description?: string;
    PartitionKeys?: Column[];
    StorageDescriptor?: StorageDescriptor;
    Parameters?: Record<string, string>;
  },
  wanted: TableInput,
): boolean {
  const columns = (list: Column[] | undefined) =>
    JSON.stringify((list ?? []).map((c) => [c.Name, c.Type, c.Comment ?? '']));
  const sd = existing.StorageDescriptor;
  const want = wanted.StorageDescriptor;
  return (
    (existing.Description ?? '') === (wanted.Description ?? '') &&
    columns(existing.PartitionKeys) === columns(wanted.PartitionKeys) &&
    columns(sd?.Columns) === columns(want?.Columns) &&
    sd?.Location === want?.Location &&
    sd?.InputFormat === want?.InputFormat &&
    sd?.OutputFormat === want?.OutputFormat &&
    sd?.SerdeInfo?.SerializationLibrary === want?.SerdeInfo?.SerializationLibrary &&
    JSON.stringify(sd?.SerdeInfo?.Parameters ?? {}) === JSON.stringify(want?.SerdeInfo?.Parameters ?? {}) &&
    existing.Parameters?.classification === wanted.Parameters?.classification
  );
}
