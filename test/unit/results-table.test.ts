import { describe, expect, it } from 'vitest';
import {
  athenaCreateTableDdl,
  gluePartitionInput,
  glueTableInput,
  partitionLocation,
  resultsTableDefinition,
} from '../../src/core/results-table.js';
import { runResultsPrefix } from '../../src/core/run-attempt.js';
import { InvalidInputError } from '../../src/errors.js';

const def = resultsTableDefinition({
  database: 'ml',
  table: 'predictions',
  resultsPrefix: 's3://bucket/results/',
});

describe('resultsTableDefinition', () => {
  it('defines the result columns with Glue types, partitioned by run date, run id and variant', () => {
    expect(def.database).toBe('ml');
    expect(def.name).toBe('predictions');
    expect(def.location).toBe('s3://bucket/results/predictions/');
    expect(def.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      'id string',
      'source string',
      'record bigint',
      'features array<double>',
      'score double',
      'scores array<double>',
      'label string',
      'model string',
      'actual string',
    ]);
    expect(def.partitionKeys.map((c) => `${c.name} ${c.type}`)).toEqual([
      'run_date string',
      'run_id string',
      'variant string',
    ]);
  });

  it('keeps the same columns whatever the model kind, so runs of different models share the table', () => {
    const multiclass = resultsTableDefinition({
      database: 'ml',
      table: 'predictions',
      resultsPrefix: 's3://bucket/results/',
      modelKind: 'multiclass',
    });

    expect(multiclass.columns).toEqual(def.columns);
    expect(multiclass.description).toContain('multiclass');
  });

  it('rejects table and database names that are not lower-case identifiers', () => {
    for (const table of ['Predictions', '1table', 'a-b', 'x; DROP TABLE y', 'a'.repeat(129)]) {
      expect(() =>
        resultsTableDefinition({ database: 'ml', table, resultsPrefix: 's3://bucket/results/' }),
      ).toThrow(InvalidInputError);
    }
    expect(() =>
      resultsTableDefinition({ database: 'ml db', table: 't', resultsPrefix: 's3://bucket/results/' }),
    ).toThrow('Invalid database name "ml db"');
  });

  it('rejects a results prefix that is not an s3:// folder', () => {
    expect(() =>
      resultsTableDefinition({ database: 'ml', table: 't', resultsPrefix: 's3://bucket/results' }),
    ).toThrow(InvalidInputError);
    expect(() =>
      resultsTableDefinition({ database: 'ml', table: 't', resultsPrefix: '/tmp/results/' }),
    ).toThrow(InvalidInputError);
  });
});

describe('partitionLocation', () => {
  it('lays partitions out Hive-style under the table location', () => {
    expect(partitionLocation(def, ['2024-05-01', 'run-1', 'champion'])).toBe(
      's3://bucket/results/predictions/run_date=2024-05-01/run_id=run-1/variant=champion/',
    );
  });

  it('rejects a wrong number of values and values that are not plain path segments', () => {
    expect(() => partitionLocation(def, ['2024-05-01', 'run-1'])).toThrow(
      'Table predictions has 3 partition keys (run_date, run_id, variant) but 2 values were given',
    );
    expect(() => partitionLocation(def, ['2024-05-01', '../x', 'a'])).toThrow(InvalidInputError);
    expect(() => partitionLocation(def, ['2024-05-01', "r'1", 'a'])).toThrow(InvalidInputError);
  });
});

describe('runResultsPrefix (a run across its variants, built by the one partition-path function)', () => {
  it('is the folder of the run date and run id under the table', () => {
    expect(runResultsPrefix('s3://bucket/results/', 'predictions', '2024-05-01', 'run-1')).toBe(
      's3://bucket/results/predictions/run_date=2024-05-01/run_id=run-1/',
    );
  });

  it('refuses a run id or date that is not a plain path segment, as partitionLocation does', () => {
    // Without the check, '../x' would list (and delete) another run's folder.
    expect(() => runResultsPrefix('s3://bucket/results/', 'predictions', '2024-05-01', '../x')).toThrow(
      'Invalid value "../x" for partition key run_id',
    );
    expect(() => runResultsPrefix('s3://bucket/results/', 'predictions', '2024/05/01', 'run-1')).toThrow(
      'Invalid value "2024/05/01" for partition key run_date',
    );
  });
});

describe('glueTableInput', () => {
  it('describes an external JSON table read by the OpenX JSON SerDe', () => {
    expect(glueTableInput(def)).toEqual({
      Name: 'predictions',
      Description: def.description,
      TableType: 'EXTERNAL_TABLE',
      Parameters: { EXTERNAL: 'TRUE', classification: 'json', typeOfData: 'file' },
      PartitionKeys: [
        { Name: 'run_date', Type: 'string', Comment: 'UTC date the run started, YYYY-MM-DD' },
        { Name: 'run_id', Type: 'string', Comment: 'pipeline run id' },
        { Name: 'variant', Type: 'string', Comment: 'model variant name from the run request' },
      ],
      StorageDescriptor: {
        Columns: def.columns.map((c) => ({ Name: c.name, Type: c.type, Comment: c.comment })),
        Location: 's3://bucket/results/predictions/',
        InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
        OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
        SerdeInfo: {
          SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
          Parameters: { 'ignore.malformed.json': 'FALSE' },
        },
      },
    });
  });

  it('gives each partition the table storage format at the partition location', () => {
    const partition = {
      values: ['2024-05-01', 'run-1', 'a'],
      location: partitionLocation(def, ['2024-05-01', 'run-1', 'a']),
    };

    const input = gluePartitionInput(def, partition);

    expect(input.Values).toEqual(['2024-05-01', 'run-1', 'a']);
    expect(input.StorageDescriptor.Location).toBe(partition.location);
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
  });
});

describe('athenaCreateTableDdl', () => {
  it('writes the CREATE EXTERNAL TABLE statement equivalent to the Glue table', () => {
    expect(athenaCreateTableDdl(def)).toBe(
      [
        'CREATE EXTERNAL TABLE IF NOT EXISTS `ml`.`predictions` (',
        "  `id` string COMMENT 'record id taken from the idColumn of the input, when configured',",
        "  `source` string COMMENT 'URI of the input object the record came from',",
        "  `record` bigint COMMENT '1-based record (line) number within the source object',",
        "  `features` array<double> COMMENT 'the numeric features sent to the model',",
        "  `score` double COMMENT 'binary: probability of the positive class; regression: the prediction; multiclass: top probability',",
        "  `scores` array<double> COMMENT 'multiclass: probability of each class, in label order',",
        "  `label` string COMMENT 'predicted class: its label, or its index when no labels are configured',",
        "  `model` string COMMENT 'SageMaker model name that produced the prediction',",
        "  `actual` string COMMENT 'true outcome from the actualColumn of the input, when configured: a class label (a class index given with labels becomes its label) or the regression target as text'",
        ')',
        "COMMENT 'Batch Transform predictions joined with their inputs'",
        'PARTITIONED BY (',
        "  `run_date` string COMMENT 'UTC date the run started, YYYY-MM-DD',",
        "  `run_id` string COMMENT 'pipeline run id',",
        "  `variant` string COMMENT 'model variant name from the run request'",
        ')',
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'",
        "WITH SERDEPROPERTIES ('ignore.malformed.json' = 'FALSE')",
        "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'",
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
        "LOCATION 's3://bucket/results/predictions/'",
        "TBLPROPERTIES ('classification' = 'json');",
      ].join('\n'),
    );
  });

  it('escapes quotes in comments so the DDL stays one statement', () => {
    const ddl = athenaCreateTableDdl({ ...def, description: "it's" });

    expect(ddl).toContain("COMMENT 'it\\'s'");
  });
});
