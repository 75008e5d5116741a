import {
  BatchCreatePartitionCommand,
  BatchDeletePartitionCommand,
  BatchUpdatePartitionCommand,
  type Column,
  CreateTableCommand,
  GetPartitionsCommand,
  GetTableCommand,
  type GlueClient,
  type PartitionInput,
  type StorageDescriptor,
  type TableInput,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import { assertPartitionValue, gluePartitionInput, glueTableInput } from '../core/results-table.js';
import { CatalogError, messageOf, TransientError } from '../errors.js';
import type { Catalog, PartitionDefinition, TableDefinition } from '../ports.js';
import { errorNameOf, rethrowSdkError } from './sdk-errors.js';

/** BatchCreatePartition and BatchUpdatePartition take at most 100 partitions per call. */
export const GLUE_PARTITION_BATCH_SIZE = 100;
/** BatchDeletePartition takes at most 25 partitions per call. */
export const GLUE_DELETE_BATCH_SIZE = 25;

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
   * Switches one run's partitions (see {@link Catalog.switchRunPartitions}). Glue has no transaction
   * over several partitions, so the switch is per partition, each a single call Athena sees whole, in
   * the order that keeps a half-done switch from mixing attempts in a new way: partitions that exist get
   * their location changed first by BatchUpdatePartition (never deleted and re-created, so no reader
   * finds one missing), then new variants are created, then the run's partitions of variants the attempt
   * no longer has are deleted. When any call fails, what was already changed is put back (previous
   * locations restored, created partitions deleted, deleted ones re-created), so a failed switch leaves
   * the run's partitions as they were. Repeating the call changes nothing.
   *
   * @throws TransientError when Glue's refusal is one a retry may cure and everything was put back (a
   *   retry starts from the previous state).
   * @throws CatalogError otherwise, naming the step, every partition Glue refused and why, and whether
   *   putting back succeeded; the original error is its cause.
   */
  async switchRunPartitions(
    table: TableDefinition,
    run: readonly string[],
    partitions: PartitionDefinition[],
  ): Promise<PartitionDefinition[]> {
    const previous = await this.listRunPartitions(table, run);
    const key = (values: readonly string[]) => JSON.stringify(values);
    const before = new Map(previous.map((p) => [key(p.values), p]));
    const wanted = new Set(partitions.map((p) => key(p.values)));
    const toUpdate = partitions.filter((p) => before.has(key(p.values)));
    const toCreate = partitions.filter((p) => !before.has(key(p.values)));
    const toDelete = previous.filter((p) => !wanted.has(key(p.values)));
    // What was attempted so far (a call that failed may have applied part of its batch): the undo list.
    const updated: PartitionDefinition[] = [];
    const created: PartitionDefinition[] = [];
    const deleted: PartitionDefinition[] = [];
    let step = 'update';
    try {
      updated.push(...toUpdate);
      await this.updatePartitions(table, toUpdate);
      step = 'create';
      created.push(...toCreate);
      // Created meanwhile (a retried call, another execution of the run id): switched in place instead.
      const already = await this.createPartitions(table, toCreate);
      await this.updatePartitions(table, already);
      step = 'delete';
      deleted.push(...toDelete);
      await this.deletePartitions(table, toDelete);
    } catch (error) {
      const what = `Glue switch of run [${run.join(', ')}] in ${table.database}.${table.name} failed at its ${step} step`;
      let undone: string;
      try {
        await this.createPartitions(table, deleted);
        await this.deletePartitions(table, created);
        await this.updatePartitions(
          table,
          updated.flatMap((p) => before.get(key(p.values)) ?? []),
        );
        undone = 'every partition changed so far was put back as it was';
      } catch (undoError) {
        throw new CatalogError(
          `${what}: ${messageOf(error)}; putting the partitions back failed too (${messageOf(undoError)}): the run's partitions may point at two attempts until the run is retried or run again`,
          { cause: error },
        );
      }
      if (error instanceof TransientError) {
        throw new TransientError(`${what} (${undone}): ${error.message}`, { cause: error });
      }
      throw new CatalogError(`${what} (${undone}): ${messageOf(error)}`, { cause: error });
    }
    return previous;
  }

  /** BatchUpdatePartition in batches: each partition gets the given location in place. */
  private async updatePartitions(table: TableDefinition, partitions: PartitionDefinition[]): Promise<void> {
    const what = `${table.database}.${table.name}`;
    for (const batch of chunks(partitions, GLUE_PARTITION_BATCH_SIZE)) {
      const output = await this.send(
        () =>
          this.client.send(
            new BatchUpdatePartitionCommand({
              DatabaseName: table.database,
              TableName: table.name,
              Entries: batch.map((p) => ({
                PartitionValueList: [...p.values],
                PartitionInput: gluePartitionInput(table, p) as PartitionInput,
              })),
            }),
          ),
        `Glue BatchUpdatePartition ${what}`,
      );
      throwRefused(output.Errors ?? [], what, 'update');
    }
  }

  /**
   * BatchCreatePartition in batches.
   *
   * @returns the partitions Glue said already exist (to be updated in place by the caller).
   */
  private async createPartitions(
    table: TableDefinition,
    partitions: PartitionDefinition[],
  ): Promise<PartitionDefinition[]> {
    const what = `${table.database}.${table.name}`;
    const key = (values: readonly string[]) => JSON.stringify(values);
    const already: PartitionDefinition[] = [];
    for (const batch of chunks(partitions, GLUE_PARTITION_BATCH_SIZE)) {
      const output = await this.send(
        () =>
          this.client.send(
            new BatchCreatePartitionCommand({
              DatabaseName: table.database,
              TableName: table.name,
              PartitionInputList: batch.map((p) => gluePartitionInput(table, p) as PartitionInput),
            }),
          ),
        `Glue BatchCreatePartition ${what}`,
      );
      const exists = (e: GluePartitionError) => e.ErrorDetail?.ErrorCode === 'AlreadyExistsException';
      throwRefused(
        (output.Errors ?? []).filter((e) => !exists(e)),
        what,
        'create',
      );
      for (const entry of (output.Errors ?? []).filter(exists)) {
        const partition = batch.find((p) => key(p.values) === key(entry.PartitionValues ?? []));
        if (partition) already.push(partition);
      }
    }
    return already;
  }

  /** BatchDeletePartition in batches; a partition already gone is not an error. */
  private async deletePartitions(table: TableDefinition, partitions: PartitionDefinition[]): Promise<void> {
    const what = `${table.database}.${table.name}`;
    for (const batch of chunks(partitions, GLUE_DELETE_BATCH_SIZE)) {
      const output = await this.send(
        () =>
          this.client.send(
            new BatchDeletePartitionCommand({
              DatabaseName: table.database,
              TableName: table.name,
              PartitionsToDelete: batch.map((p) => ({ Values: [...p.values] })),
            }),
          ),
        `Glue BatchDeletePartition ${what}`,
      );
      const refused = (output.Errors ?? []).filter(
        (e) => e.ErrorDetail?.ErrorCode !== 'EntityNotFoundException',
      );
      throwRefused(refused, what, 'delete');
    }
  }

  /**
   * The table's partitions whose leading values are `run` (GetPartitions with an expression, paged);
   * none when the table does not exist yet.
   */
  async runPartitions(table: TableDefinition, run: readonly string[]): Promise<PartitionDefinition[]> {
    try {
      return await this.listRunPartitions(table, run);
    } catch (error) {
      if (errorNameOf(error) === 'EntityNotFoundException') return [];
      throw error;
    }
  }

  private async listRunPartitions(
    table: TableDefinition,
    run: readonly string[],
  ): Promise<PartitionDefinition[]> {
    // Values are checked plain path segments (assertPartitionValue): no quote can reach the expression.
    const expression = run
      .map((value, i) => {
        assertPartitionValue(value, table.partitionKeys[i]?.name ?? `key ${i}`);
        return `${table.partitionKeys[i]?.name} = '${value}'`;
      })
      .join(' AND ');
    const found: PartitionDefinition[] = [];
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const output = await this.send(
        () =>
          this.client.send(
            new GetPartitionsCommand({
              DatabaseName: table.database,
              TableName: table.name,
              Expression: expression,
              ...(token ? { NextToken: token } : {}),
            }),
          ),
        `Glue GetPartitions ${table.database}.${table.name} (${expression})`,
      );
      for (const partition of output.Partitions ?? []) {
        const values = partition.Values ?? [];
        // Filter again: the expression is the efficient path, this makes the scope exact.
        if (!run.every((value, i) => values[i] === value)) continue;
        found.push({ values, location: partition.StorageDescriptor?.Location ?? '' });
      }
      nextToken = output.NextToken;
    } while (nextToken);
    return found;
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

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

interface GluePartitionError {
  PartitionValues?: string[];
  PartitionValueList?: string[];
  ErrorDetail?: { ErrorCode?: string; ErrorMessage?: string };
}

/** @throws CatalogError (or TransientError when every refusal is transient) naming each partition. */
function throwRefused(failures: readonly GluePartitionError[], what: string, verb: string): void {
  if (failures.length === 0) return;
  const details = failures.map(
    (entry) =>
      `[${(entry.PartitionValues ?? entry.PartitionValueList ?? []).join(', ')}] ${entry.ErrorDetail?.ErrorCode ?? 'Error'}: ${
        entry.ErrorDetail?.ErrorMessage ?? 'no message'
      }`,
  );
  const message = `Glue refused to ${verb} ${failures.length} partition(s) of ${what}: ${details.join('; ')}`;
  const allTransient = failures.every((entry) =>
    TRANSIENT_GLUE_CODES.has(entry.ErrorDetail?.ErrorCode ?? ''),
  );
  throw allTransient ? new TransientError(message) : new CatalogError(message);
}
