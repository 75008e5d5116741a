// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} here is CloudFormation Fn::Sub syntax, not JS.
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  cfnLint,
  type LintFinding,
  type PackagedService,
  packageOnce,
  packageService,
  packageServices,
} from '../helpers/sls-package.js';

/**
 * Packages the service offline with osls (`sls package`) for the default parameters and for each
 * optional parameter set, lints every template with cfn-lint, then checks the default template: what
 * would be deployed, short of deploying it.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ASL_PATH = join(ROOT, 'state-machines/batch-transform.asl.yml');
const require = createRequire(import.meta.url);
const aslValidator = require('asl-validator') as (definition: unknown) => {
  isValid: boolean;
  errorsText: (separator?: string) => string;
};

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
  Condition?: string;
}
interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
  Principal?: unknown;
}

const FUNCTIONS = {
  startRun: 'start-run',
  buildManifest: 'build-manifest',
  parseResults: 'parse-results',
  registerTable: 'register-table',
  runQueries: 'run-queries',
  recordFailure: 'record-failure',
} as const;

const KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const VOLUME_KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ac';
const VPC = {
  subnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  securityGroupIds: 'sg-0123456789abcdef0',
};
/**
 * Every optional parameter, in three sets packaged and linted besides the defaults (between them, both
 * branches of every condition in the template).
 */
const PARAMETER_SETS: Record<string, Record<string, string>> = {
  kms: { kmsKeyArn: KEY, volumeKmsKeyArn: VOLUME_KEY },
  vpc: VPC,
  custom: {
    inputPrefix: 'uploads/daily/',
    runMarker: '_SUCCESS',
    logRetentionInDays: '90',
    imageRepositories:
      '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost,123456789012.dkr.ecr.us-east-1.amazonaws.com/*',
  },
};

let defaults: PackagedService;
const variants: Record<string, PackagedService> = {};
let lint: LintFinding[];
let resources: Record<string, Resource>;

beforeAll(async () => {
  defaults = await packageService();
  resources = defaults.template.Resources as Record<string, Resource>;
  const packaged = await packageServices(Object.values(PARAMETER_SETS));
  Object.keys(PARAMETER_SETS).forEach((name, i) => {
    variants[name] = packaged[i] as PackagedService;
  });
  lint = await cfnLint([defaults.templatePath, ...Object.values(variants).map((v) => v.templatePath)]);
}, 600_000);

afterAll(() => {
  for (const packaged of [defaults, ...Object.values(variants)]) {
    if (packaged) rmSync(packaged.dir, { recursive: true, force: true });
  }
});

const variant = (name: string): PackagedService => {
  const found = variants[name];
  if (!found) throw new Error(`No package for parameter set ${name}`);
  return found;
};
const resource = (logicalId: string, from: Record<string, Resource> = resources): Resource => {
  const found = from[logicalId];
  if (!found) throw new Error(`No resource ${logicalId} in the template`);
  return found;
};
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const logicalIdOf = (fn: string) => `${fn[0]?.toUpperCase()}${fn.slice(1)}LambdaFunction`;

/** Every statement of a role's inline policies (both branches of an Fn::If). */
function roleStatements(logicalId: string, from: Record<string, Resource> = resources): Statement[] {
  const policies = (resource(logicalId, from).Properties.Policies ?? []) as { PolicyDocument: Json }[];
  return policies.flatMap((p) => flattenStatements(p.PolicyDocument.Statement as unknown[]));
}

function flattenStatements(statements: unknown[]): Statement[] {
  return statements.flatMap((s) => {
    const conditional = (s as Json)['Fn::If'] as [string, unknown, unknown] | undefined;
    if (!conditional) return [s as Statement];
    return [conditional[1], conditional[2]].filter((b) => !(b as Json).Ref) as Statement[];
  });
}

/** Every IAM statement in the template: roles, managed policies and the bucket policy. */
function allStatements(): { owner: string; statement: Statement }[] {
  const out: { owner: string; statement: Statement }[] = [];
  for (const [id] of ofType('AWS::IAM::Role')) {
    for (const statement of roleStatements(id)) out.push({ owner: id, statement });
  }
  for (const [id, r] of [...ofType('AWS::IAM::ManagedPolicy'), ...ofType('AWS::S3::BucketPolicy')]) {
    const document = r.Properties.PolicyDocument as Json;
    for (const statement of flattenStatements(document.Statement as unknown[]))
      out.push({ owner: id, statement });
  }
  return out;
}

const actionsOf = (statements: Statement[]) => statements.flatMap((s) => asArray(s.Action));
const sub = (value: unknown) => (value as Json)['Fn::Sub'] as string;

describe('sls package', () => {
  it('packages one Lambda function per handler and the one state machine, offline from a clean state', () => {
    expect(
      ofType('AWS::Lambda::Function')
        .map(([id]) => id)
        .sort(),
    ).toEqual(Object.keys(FUNCTIONS).map(logicalIdOf).sort());
    expect(ofType('AWS::StepFunctions::StateMachine').map(([id]) => id)).toEqual([
      'BatchTransformStateMachine',
    ]);
  });

  it('gives templates cfn-lint finds no error in, for the default and every optional parameter set', () => {
    expect(Object.keys(variants).sort()).toEqual(Object.keys(PARAMETER_SETS).sort());
    expect(lint.filter((f) => f.level === 'Error')).toEqual([]);
    // W3005 (a DependsOn the GetAtt already implies) is how the framework writes every function.
    expect(lint.filter((f) => f.level !== 'Error' && f.rule !== 'W3005')).toEqual([]);
  });

  it('ships each function as its own esbuild bundle and nothing else', () => {
    for (const [fn, file] of Object.entries(FUNCTIONS)) {
      const zip = readFileSync(join(defaults.dir, `${fn}.zip`)).toString('latin1');
      expect(zip).toContain(`dist/handlers/${file}.mjs`);
      expect(zip).not.toContain('node_modules/');
      for (const other of Object.values(FUNCTIONS).filter((f) => f !== file)) {
        expect(zip).not.toContain(`dist/handlers/${other}.mjs`);
      }
    }
    expect(readFileSync(join(defaults.dir, 'runQueries.zip')).toString('latin1')).toContain('queries/');
  });

  it.each([
    [{ kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:alias/pipeline' }, 'is an alias ARN'],
    [{ inputPrefix: 'uploads' }, 'inputPrefix "uploads" must be a key prefix ending in "/"'],
    [{ subnetIds: 'subnet-1' }, 'subnetIds and securityGroupIds go together'],
    [
      { imageRepositories: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/mine' },
      'is in eu-west-1, but the stack deploys to us-east-1',
    ],
    [
      { imageRepositories: 'docker.io/library/python' },
      'is not <account>.dkr.ecr.<region>.amazonaws.com/<repository>',
    ],
  ])('refuses %j before packaging, saying %s', async (params, message) => {
    const result = await packageOnce([
      require.resolve('osls/bin/serverless.js'),
      'package',
      '--stage',
      'test',
      '--package',
      join(tmpdir(), 'sls-package-refused'),
      ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`),
    ]);
    expect(result.code).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toContain(message);
  });
});

describe('the Lambda functions', () => {
  it('run each handler file on nodejs22.x with its own role', () => {
    for (const [fn, file] of Object.entries(FUNCTIONS)) {
      const props = resource(logicalIdOf(fn)).Properties;
      expect(props.Handler).toBe(`dist/handlers/${file}.handler`);
      expect(props.Runtime).toBe('nodejs22.x');
      expect(props.Role).toEqual({ 'Fn::GetAtt': [`${fn[0]?.toUpperCase()}${fn.slice(1)}Role`, 'Arn'] });
    }
  });

  it('give every function the pipeline settings, and only startRun the state machine ARN', () => {
    for (const fn of Object.keys(FUNCTIONS)) {
      const variables = (resource(logicalIdOf(fn)).Properties.Environment as Json).Variables as Json;
      expect(variables).toMatchObject({
        RESULTS_BUCKET: { Ref: 'ResultsBucket' },
        INPUT_PREFIX: 'incoming/',
        GLUE_DATABASE: 'batch_pipeline_test',
        ATHENA_WORKGROUP: 'sagemaker-batch-pipeline-test',
        SAGEMAKER_ROLE_ARN: { 'Fn::GetAtt': ['SageMakerExecutionRole', 'Arn'] },
      });
      expect('STATE_MACHINE_ARN' in variables).toBe(fn === 'startRun');
    }
    const startRun = (resource('StartRunLambdaFunction').Properties.Environment as Json).Variables as Json;
    expect(startRun.STATE_MACHINE_ARN).toEqual({ Ref: 'BatchTransformStateMachine' });
  });

  it('route S3 Object Created events under incoming/ of the results bucket to startRun', () => {
    const rules = ofType('AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    const props = rules[0]?.[1].Properties as Json;
    expect(props.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [{ Ref: 'ResultsBucket' }] }, object: { key: [{ prefix: 'incoming/' }] } },
    });
    expect((props.Targets as Json[])[0]?.Arn).toEqual({ 'Fn::GetAtt': ['StartRunLambdaFunction', 'Arn'] });
  });
});

describe('the results bucket', () => {
  it('has a generated name, so a deploy after `sls remove` does not collide with the retained bucket', () => {
    const bucket = resource('ResultsBucket') as Resource & { DeletionPolicy?: string };
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties.BucketName).toBeUndefined();
  });

  it('blocks all public access', () => {
    expect(resource('ResultsBucket').Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });

  it('encrypts with SSE-KMS and an S3 Bucket Key', () => {
    const rules = (resource('ResultsBucket').Properties.BucketEncryption as Json)
      .ServerSideEncryptionConfiguration as Json[];
    expect(rules).toHaveLength(1);
    const byDefault = rules[0]?.ServerSideEncryptionByDefault as Json | undefined;
    expect(byDefault?.SSEAlgorithm).toBe('aws:kms');
    expect(rules[0]?.BucketKeyEnabled).toBe(true);
  });

  it('aborts incomplete multipart uploads within a week', () => {
    const rules = (resource('ResultsBucket').Properties.LifecycleConfiguration as Json).Rules as Json[];
    const abort = rules.find((r) => r.AbortIncompleteMultipartUpload);
    expect(abort?.Status).toBe('Enabled');
    expect(abort?.Prefix).toBeUndefined();
    const days = (abort?.AbortIncompleteMultipartUpload as Json | undefined)?.DaysAfterInitiation as number;
    expect(days).toBeGreaterThanOrEqual(1);
    expect(days).toBeLessThanOrEqual(7);
  });

  it('sends its events to EventBridge', () => {
    expect(resource('ResultsBucket').Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
  });

  it('denies every request made without TLS', () => {
    const policy = resource('ResultsBucketPolicy').Properties;
    expect(policy.Bucket).toEqual({ Ref: 'ResultsBucket' });
    const statements = (policy.PolicyDocument as Json).Statement as Statement[];
    expect(statements).toContainEqual({
      Sid: 'DenyInsecureTransport',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: [{ 'Fn::GetAtt': ['ResultsBucket', 'Arn'] }, { 'Fn::Sub': '${ResultsBucket.Arn}/*' }],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
  });
});

describe('the catalog and query resources', () => {
  it('creates the Glue database the functions are told about', () => {
    const props = resource('GlueDatabase').Properties;
    expect(props.CatalogId).toEqual({ Ref: 'AWS::AccountId' });
    expect((props.DatabaseInput as Json).Name).toBe('batch_pipeline_test');
  });

  it('creates an Athena workgroup that enforces an encrypted result location in the bucket', () => {
    const props = resource('AthenaWorkGroup').Properties;
    expect(props.Name).toBe('sagemaker-batch-pipeline-test');
    const config = props.WorkGroupConfiguration as Json;
    expect(config.EnforceWorkGroupConfiguration).toBe(true);
    const result = config.ResultConfiguration as Json;
    expect(result.OutputLocation).toEqual({ 'Fn::Sub': 's3://${ResultsBucket}/athena-results/' });
    const [, withKey, withoutKey] = (result.EncryptionConfiguration as Json)['Fn::If'] as [
      string,
      Json,
      Json,
    ];
    expect(withKey.EncryptionOption).toBe('SSE_KMS');
    expect(withoutKey.EncryptionOption).toBe('SSE_S3');
  });
});

/** A resource as a comparable string: the Fn::Sub text, or the JSON of a Ref / GetAtt. */
const resourceKey = (r: unknown) => (sub(r) !== undefined ? sub(r) : JSON.stringify(r));

/** Whether some Allow statement of the role grants the action on the resource. */
function grants(role: string, action: string, resourceText: string, from = resources): boolean {
  return roleStatements(role, from).some(
    (s) =>
      s.Effect === 'Allow' &&
      asArray(s.Action).includes(action) &&
      asArray(s.Resource).map(resourceKey).includes(resourceText),
  );
}

const BUCKET_ARN = JSON.stringify({ 'Fn::GetAtt': ['ResultsBucket', 'Arn'] });
const objects = (prefix: string) => `\${ResultsBucket.Arn}/${prefix}*`;
const ACCOUNT_ARN = (service: string) =>
  `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}`;
const GLUE_TABLES = `${ACCOUNT_ARN('glue')}:table/batch_pipeline_test/*`;

/**
 * Every grant the pipeline needs to run, role by role: each is asserted present (a missing one is an
 * AccessDenied on AWS). The default inputPrefix is incoming/.
 */
const NEEDED_GRANTS: [role: string, action: string, resource: string][] = [
  ['StartRunRole', 'states:StartExecution', JSON.stringify({ Ref: 'BatchTransformStateMachine' })],
  ['StartRunRole', 's3:GetObject', objects('config/')],
  ['StartRunRole', 's3:ListBucket', BUCKET_ARN],
  ['StartRunRole', 'sqs:SendMessage', JSON.stringify({ 'Fn::GetAtt': ['StartRunFailureQueue', 'Arn'] })],
  ['BuildManifestRole', 's3:ListBucket', BUCKET_ARN],
  ['BuildManifestRole', 's3:GetObject', objects('incoming/')],
  ['BuildManifestRole', 's3:GetObject', objects('runs/')],
  ['BuildManifestRole', 's3:PutObject', objects('runs/')],
  ['BuildManifestRole', 'sagemaker:DescribeModel', `${ACCOUNT_ARN('sagemaker')}:model/*`],
  ['ParseResultsRole', 's3:ListBucket', BUCKET_ARN],
  ['ParseResultsRole', 's3:GetObject', objects('incoming/')],
  ['ParseResultsRole', 's3:GetObject', objects('runs/')],
  ['ParseResultsRole', 's3:PutObject', objects('results/')],
  ['ParseResultsRole', 's3:AbortMultipartUpload', objects('results/')],
  ['RegisterTableRole', 'glue:GetTable', GLUE_TABLES],
  ['RegisterTableRole', 'glue:CreateTable', GLUE_TABLES],
  ['RegisterTableRole', 'glue:UpdateTable', GLUE_TABLES],
  ['RegisterTableRole', 'glue:BatchCreatePartition', GLUE_TABLES],
  [
    'RunQueriesRole',
    'athena:StartQueryExecution',
    `${ACCOUNT_ARN('athena')}:workgroup/sagemaker-batch-pipeline-test`,
  ],
  [
    'RunQueriesRole',
    'athena:GetQueryExecution',
    `${ACCOUNT_ARN('athena')}:workgroup/sagemaker-batch-pipeline-test`,
  ],
  [
    'RunQueriesRole',
    'athena:GetQueryResults',
    `${ACCOUNT_ARN('athena')}:workgroup/sagemaker-batch-pipeline-test`,
  ],
  ['RunQueriesRole', 'glue:GetTable', GLUE_TABLES],
  ['RunQueriesRole', 'glue:GetPartitions', GLUE_TABLES],
  ['RunQueriesRole', 'glue:BatchGetPartition', GLUE_TABLES],
  ['RunQueriesRole', 's3:ListBucket', BUCKET_ARN],
  ['RunQueriesRole', 's3:GetBucketLocation', BUCKET_ARN],
  ['RunQueriesRole', 's3:GetObject', objects('results/')],
  ['RunQueriesRole', 's3:GetObject', objects('athena-results/')],
  ['RunQueriesRole', 's3:PutObject', objects('athena-results/')],
  ['RunQueriesRole', 's3:PutObject', objects('runs/')],
  ['RecordFailureRole', 's3:PutObject', objects('runs/')],
  ['RunQueriesRole', 's3:DeleteObject', objects('results/')],
  ['RunQueriesRole', 's3:DeleteObject', objects('runs/')],
  ['RecordFailureRole', 'glue:GetPartitions', GLUE_TABLES],
  ['RecordFailureRole', 'glue:BatchUpdatePartition', GLUE_TABLES],
  ['RecordFailureRole', 'glue:BatchCreatePartition', GLUE_TABLES],
  ['RecordFailureRole', 'glue:BatchDeletePartition', GLUE_TABLES],
  ['SageMakerExecutionRole', 's3:GetObject', objects('incoming/')],
  ['SageMakerExecutionRole', 's3:GetObject', objects('runs/')],
  ['SageMakerExecutionRole', 's3:GetObject', objects('models/')],
  ['SageMakerExecutionRole', 's3:ListBucket', BUCKET_ARN],
  ['SageMakerExecutionRole', 's3:PutObject', objects('runs/')],
  [
    'SageMakerExecutionRole',
    'ecr:BatchGetImage',
    'arn:${AWS::Partition}:ecr:us-east-1:683313688378:repository/sagemaker-xgboost',
  ],
  ['SageMakerExecutionRole', 'ecr:GetAuthorizationToken', JSON.stringify('*')],
  ['PipelineStateMachineRole', 'sagemaker:CreateModel', `${ACCOUNT_ARN('sagemaker')}:model/*`],
  ['PipelineStateMachineRole', 'sagemaker:CreateTransformJob', `${ACCOUNT_ARN('sagemaker')}:transform-job/*`],
  [
    'PipelineStateMachineRole',
    'sagemaker:DescribeTransformJob',
    `${ACCOUNT_ARN('sagemaker')}:transform-job/*`,
  ],
  ['PipelineStateMachineRole', 'sagemaker:StopTransformJob', `${ACCOUNT_ARN('sagemaker')}:transform-job/*`],
  [
    'PipelineStateMachineRole',
    'iam:PassRole',
    JSON.stringify({ 'Fn::GetAtt': ['SageMakerExecutionRole', 'Arn'] }),
  ],
  ...(['BuildManifest', 'ParseResults', 'RegisterTable', 'RunQueries', 'RecordFailure'].map((fn) => [
    'PipelineStateMachineRole',
    'lambda:InvokeFunction',
    JSON.stringify({ 'Fn::GetAtt': [`${fn}LambdaFunction`, 'Arn'] }),
  ]) as [string, string, string][]),
];

describe('IAM', () => {
  it.each(NEEDED_GRANTS)('lets %s %s on %s', (role, action, resourceText) => {
    expect(grants(role, action, resourceText)).toBe(true);
  });

  it('grants every input read on the configured inputPrefix, and none on incoming/, when inputPrefix is set', () => {
    const custom = variant('custom').template.Resources as Record<string, Resource>;
    for (const role of ['BuildManifestRole', 'ParseResultsRole', 'SageMakerExecutionRole']) {
      expect(grants(role, 's3:GetObject', objects('uploads/daily/'), custom), role).toBe(true);
      expect(grants(role, 's3:GetObject', objects('incoming/'), custom), role).toBe(false);
    }
    const list = roleStatements('SageMakerExecutionRole', custom).find((s) => s.Sid === 'ListInputPrefixes');
    expect(list?.Condition).toEqual({
      StringLike: { 's3:prefix': ['uploads/daily/*', 'runs/*', 'models/*'] },
    });
    expect(JSON.stringify(custom)).not.toContain('incoming/');
  });

  it('lets SageMaker pull only the allow-listed image repositories', () => {
    const pull = (from: Record<string, Resource>) =>
      roleStatements('SageMakerExecutionRole', from).filter((s) =>
        asArray(s.Action).includes('ecr:BatchGetImage'),
      );
    expect(
      pull(resources)
        .flatMap((s) => asArray(s.Resource))
        .map(resourceKey),
    ).toEqual(['arn:${AWS::Partition}:ecr:us-east-1:683313688378:repository/sagemaker-xgboost']);
    const listed = variant('custom').template.Resources as Record<string, Resource>;
    expect(
      pull(listed)
        .flatMap((s) => asArray(s.Resource))
        .map(resourceKey),
    ).toEqual([
      'arn:${AWS::Partition}:ecr:us-east-1:683313688378:repository/sagemaker-xgboost',
      'arn:${AWS::Partition}:ecr:us-east-1:123456789012:repository/*',
    ]);
    const variables = (resource('BuildManifestLambdaFunction', listed).Properties.Environment as Json)
      .Variables as Json;
    expect(variables.IMAGE_REPOSITORIES).toBe(
      '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost,123456789012.dkr.ecr.us-east-1.amazonaws.com/*',
    );
  });

  it('lets every role touching bucket objects use the customer managed key, when one is given', () => {
    const kms = variant('kms').template.Resources as Record<string, Resource>;
    const policy = resource('ResultsKeyUsePolicy', kms);
    expect(policy.Condition).toBe('HasKmsKey');
    expect((policy.Properties.Roles as Json[]).map((r) => r.Ref).sort()).toEqual(
      [
        'StartRunRole',
        'BuildManifestRole',
        'ParseResultsRole',
        // RegisterTable reads the attempt's job results and deletes the previous attempt after the switch.
        'RegisterTableRole',
        'RunQueriesRole',
        'RecordFailureRole',
        'PipelineStateMachineRole',
      ].sort(),
    );
    expect((policy.Properties.PolicyDocument as Json).Statement).toEqual([
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: { Ref: 'KmsKeyArn' } },
    ]);
    expect(variant('kms').template.Parameters).toMatchObject({ KmsKeyArn: { Default: KEY } });
  });

  it('allows no wildcard action anywhere', () => {
    const allows = allStatements().filter(({ statement }) => statement.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(NEEDED_GRANTS.length / 3);
    for (const { owner, statement } of allows) {
      if (statement.Effect !== 'Allow') continue;
      for (const action of asArray(statement.Action)) {
        expect(action, `${owner} ${statement.Sid}`).not.toBe('*');
        expect(action, `${owner} ${statement.Sid}`).not.toMatch(/:\*$/);
      }
    }
  });

  it('uses a wildcard action only in bucket policies that deny plain HTTP', () => {
    const wildcard = allStatements().filter(({ statement }) =>
      asArray(statement.Action).some((a) => a.endsWith('*')),
    );
    // The framework's own deployment bucket gets the same TLS-only Deny.
    expect(wildcard.map(({ owner }) => owner).sort()).toEqual(
      ['ResultsBucketPolicy', 'ServerlessDeploymentBucketPolicy'].sort(),
    );
    for (const { statement } of wildcard) {
      expect(statement.Effect).toBe('Deny');
      const bool = statement.Condition?.Bool as Json | undefined;
      expect(String(bool?.['aws:SecureTransport'])).toBe('false');
    }
  });

  it('uses a `*` resource only for APIs without resource-level permissions', () => {
    const star = allStatements().filter(({ statement }) => asArray(statement.Resource).includes('*'));
    const actions = new Set(star.flatMap(({ statement }) => asArray(statement.Action)));
    expect([...actions].sort()).toEqual(
      [
        'ecr:GetAuthorizationToken',
        'cloudwatch:PutMetricData',
        'ec2:CreateNetworkInterface',
        'ec2:CreateNetworkInterfacePermission',
        'ec2:DeleteNetworkInterface',
        'ec2:DeleteNetworkInterfacePermission',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeVpcs',
        'ec2:DescribeDhcpOptions',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
        'logs:CreateLogDelivery',
        'logs:GetLogDelivery',
        'logs:UpdateLogDelivery',
        'logs:DeleteLogDelivery',
        'logs:ListLogDeliveries',
        'logs:PutResourcePolicy',
        'logs:DescribeResourcePolicies',
        'logs:DescribeLogGroups',
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
        'xray:GetSamplingRules',
        'xray:GetSamplingTargets',
      ].sort(),
    );
    for (const { owner } of star) {
      expect(['SageMakerExecutionRole', 'ResultsBucketPolicy', 'PipelineStateMachineRole']).toContain(owner);
    }
  });

  it('scopes every S3 object action to a prefix of the results bucket', () => {
    let checked = 0;
    const allowed = /^\$\{ResultsBucket\.Arn\}\/(incoming|runs|results|athena-results|models|config)\/\*$/;
    for (const { owner, statement } of allStatements()) {
      if (statement.Effect !== 'Allow') continue;
      const s3Object = asArray(statement.Action).filter((a) =>
        /^s3:(GetObject|PutObject|DeleteObject|AbortMultipartUpload)$/.test(a),
      );
      if (s3Object.length === 0) continue;
      checked += 1;
      for (const r of asArray(statement.Resource))
        expect(sub(r), `${owner} ${statement.Sid}`).toMatch(allowed);
    }
    // Nine roles' statements read or write objects: the loop above must have seen them.
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it('lets only the bucket itself be listed', () => {
    const listing = allStatements().filter(({ statement }) =>
      asArray(statement.Action).includes('s3:ListBucket'),
    );
    expect(listing.map(({ owner }) => owner).sort()).toEqual(
      [
        'StartRunRole',
        'BuildManifestRole',
        'ParseResultsRole',
        // RegisterTable and RecordFailure list an attempt's files to delete them (after the switch; a failed attempt).
        'RegisterTableRole',
        'RunQueriesRole',
        'RecordFailureRole',
        'SageMakerExecutionRole',
      ].sort(),
    );
    for (const { statement } of listing) {
      expect(statement.Resource).toEqual({ 'Fn::GetAtt': ['ResultsBucket', 'Arn'] });
    }
  });

  it('scopes Glue actions to the catalog, the pipeline database and its tables', () => {
    const glue = allStatements().filter(({ statement }) =>
      asArray(statement.Action).some((a) => a.startsWith('glue:')),
    );
    // RecordFailure switches back a run that failed after RegisterTable's switch.
    expect(glue.map((g) => g.owner).sort()).toEqual([
      'RecordFailureRole',
      'RegisterTableRole',
      'RunQueriesRole',
    ]);
    for (const { statement } of glue) {
      expect(asArray(statement.Resource).map(sub)).toEqual([
        'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog',
        'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/batch_pipeline_test',
        'arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/batch_pipeline_test/*',
      ]);
    }
    const registerActions = actionsOf(roleStatements('RegisterTableRole')).filter((a) =>
      a.startsWith('glue:'),
    );
    expect(registerActions.sort()).toEqual(
      // The partition switch (GlueCatalog.switchRunPartitions): find the run's partitions, create new
      // ones, change existing ones' location in place, delete variants a re-run no longer has.
      [
        'glue:BatchCreatePartition',
        'glue:BatchDeletePartition',
        'glue:BatchUpdatePartition',
        'glue:CreateTable',
        'glue:GetPartitions',
        'glue:GetTable',
        'glue:UpdateTable',
      ].sort(),
    );
  });

  it('scopes Athena actions to the pipeline workgroup', () => {
    const athena = allStatements().filter(({ statement }) =>
      asArray(statement.Action).some((a) => a.startsWith('athena:')),
    );
    expect(athena).toHaveLength(1);
    expect(athena[0]?.owner).toBe('RunQueriesRole');
    expect(sub(athena[0]?.statement.Resource)).toBe(
      'arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/sagemaker-batch-pipeline-test',
    );
  });

  it('scopes SageMaker actions to transform jobs and models', () => {
    const sageMaker = allStatements().filter(({ statement }) =>
      asArray(statement.Action).some((a) => a.startsWith('sagemaker:')),
    );
    const arn = 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}';
    expect(sageMaker.map(({ owner }) => owner).sort()).toEqual(
      ['BuildManifestRole', 'PipelineStateMachineRole', 'PipelineStateMachineRole'].sort(),
    );
    for (const { statement } of sageMaker) {
      expect([`${arn}:transform-job/*`, `${arn}:model/*`]).toContain(sub(statement.Resource));
    }
    const machine = roleStatements('PipelineStateMachineRole');
    const jobActions = machine.find((s) => sub(s.Resource) === `${arn}:transform-job/*`)?.Action;
    expect(jobActions).toEqual(
      expect.arrayContaining([
        'sagemaker:CreateTransformJob',
        'sagemaker:DescribeTransformJob',
        'sagemaker:StopTransformJob',
        'sagemaker:AddTags',
      ]),
    );
    const modelActions = machine.find((s) => sub(s.Resource) === `${arn}:model/*`)?.Action;
    expect(modelActions).toEqual(['sagemaker:CreateModel', 'sagemaker:AddTags']);
  });

  it('lets the state machine manage only the rule Step Functions uses for .sync transform jobs', () => {
    const events = allStatements().filter(({ statement }) =>
      asArray(statement.Action).some((a) => a.startsWith('events:')),
    );
    expect(events).toHaveLength(1);
    expect(events[0]?.owner).toBe('PipelineStateMachineRole');
    expect(events[0]?.statement.Action).toEqual([
      'events:PutTargets',
      'events:PutRule',
      'events:DescribeRule',
    ]);
    expect(sub(events[0]?.statement.Resource)).toBe(
      'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/StepFunctionsGetEventsForSageMakerTransformJobsRule',
    );
  });

  it('passes only the SageMaker execution role, and only to SageMaker', () => {
    const passRole = allStatements().filter(({ statement }) =>
      asArray(statement.Action).includes('iam:PassRole'),
    );
    expect(passRole).toHaveLength(1);
    expect(passRole[0]?.owner).toBe('PipelineStateMachineRole');
    expect(passRole[0]?.statement.Resource).toEqual({ 'Fn::GetAtt': ['SageMakerExecutionRole', 'Arn'] });
    expect(passRole[0]?.statement.Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' },
    });
  });

  it('lets only startRun start executions of this state machine, and the state machine its own Map children', () => {
    const states = allStatements().filter(({ statement }) =>
      asArray(statement.Action).some((a) => a.startsWith('states:')),
    );
    expect(states.map((s) => s.owner).sort()).toEqual([
      'PipelineStateMachineRole',
      'PipelineStateMachineRole',
      'StartRunRole',
    ]);
    const start = states.find((s) => s.owner === 'StartRunRole');
    expect(start?.statement.Action).toBe('states:StartExecution');
    expect(start?.statement.Resource).toEqual({ Ref: 'BatchTransformStateMachine' });
    // RunTransforms' Distributed Map starts, watches and stops child executions of this state machine only.
    const children = states.filter((s) => s.owner === 'PipelineStateMachineRole');
    expect(children.map((s) => [asArray(s.statement.Action), sub(s.statement.Resource)])).toEqual([
      [
        ['states:StartExecution'],
        'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:sagemaker-batch-pipeline-test-batch-transform',
      ],
      [
        ['states:DescribeExecution', 'states:StopExecution'],
        'arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:sagemaker-batch-pipeline-test-batch-transform/*',
      ],
    ]);
  });

  it('lets the state machine invoke the five step functions and not startRun', () => {
    const invoke = roleStatements('PipelineStateMachineRole').find(
      (s) => s.Action === 'lambda:InvokeFunction',
    );
    const targets = JSON.stringify(invoke?.Resource);
    for (const fn of ['buildManifest', 'parseResults', 'registerTable', 'runQueries', 'recordFailure']) {
      expect(targets).toContain(logicalIdOf(fn));
    }
    expect(targets).not.toContain('StartRunLambdaFunction');
  });

  it('has SageMaker assume an execution role that reads incoming/ and runs/ and writes runs/ only', () => {
    const role = resource('SageMakerExecutionRole').Properties;
    const trust = (role.AssumeRolePolicyDocument as Json).Statement as Statement[];
    expect(trust.map((s) => s.Principal)).toEqual([{ Service: 'sagemaker.amazonaws.com' }]);
    const statements = roleStatements('SageMakerExecutionRole');
    const reads = statements.filter((s) => asArray(s.Action).includes('s3:GetObject'));
    expect(reads.flatMap((s) => asArray(s.Resource)).map(sub)).toEqual(
      expect.arrayContaining(['${ResultsBucket.Arn}/incoming/*', '${ResultsBucket.Arn}/runs/*']),
    );
    const writes = statements.filter((s) => asArray(s.Action).includes('s3:PutObject'));
    expect(writes.flatMap((s) => asArray(s.Resource)).map(sub)).toEqual(['${ResultsBucket.Arn}/runs/*']);
  });
});

describe('the state machine', () => {
  const definitionString = () => {
    const props = resource('BatchTransformStateMachine').Properties;
    return props.DefinitionString as {
      'Fn::Sub': [string, Record<string, { 'Fn::GetAtt': [string, string] }>];
    };
  };

  it('runs with the pipeline role, not a generated one', () => {
    expect(resource('BatchTransformStateMachine').Properties.RoleArn).toEqual({
      'Fn::GetAtt': ['PipelineStateMachineRole', 'Arn'],
    });
  });

  it('logs failed states with their data to a 30-day log group and traces executions in X-Ray', () => {
    const props = resource('BatchTransformStateMachine').Properties;
    expect(props.LoggingConfiguration).toEqual({
      Level: 'ERROR',
      IncludeExecutionData: true,
      Destinations: [
        { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['StateMachineLogGroup', 'Arn'] } } },
      ],
    });
    expect(props.TracingConfiguration).toEqual({ Enabled: true });
    expect(resource('StateMachineLogGroup').Properties).toEqual({
      LogGroupName: '/aws/vendedlogs/states/sagemaker-batch-pipeline-test-batch-transform',
      RetentionInDays: 30,
    });
    const all = variant('custom').template.Resources as Record<string, Resource>;
    expect(Number(resource('StateMachineLogGroup', all).Properties.RetentionInDays)).toBe(90);
  });

  it('creates only the pipeline roles, none generated by the framework or the plugin', () => {
    expect(
      ofType('AWS::IAM::Role')
        .map(([id]) => id)
        .sort(),
    ).toEqual(
      [
        'PipelineStateMachineRole',
        'SageMakerExecutionRole',
        'StartRunRole',
        'BuildManifestRole',
        'ParseResultsRole',
        'RegisterTableRole',
        'RunQueriesRole',
        'RecordFailureRole',
      ].sort(),
    );
  });

  it('is the definition in state-machines/batch-transform.asl.yml, Lambda ARNs aside', () => {
    const [text, substitutions] = definitionString()['Fn::Sub'];
    // Substitute each ${placeholder} with a marker naming the function it resolves to. The plugin's
    // validator writes the default `QueryLanguage: JSONPath` into every state it checks: same meaning,
    // so that field is dropped before comparing.
    const resolved = text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
      const target = substitutions[name]?.['Fn::GetAtt']?.[0];
      if (!target) throw new Error(`Unresolved substitution ${name}`);
      return `lambda:${target}`;
    });
    const expected = JSON.parse(
      JSON.stringify(parseYaml(readFileSync(ASL_PATH, 'utf8'), { merge: true }), (_key, value: unknown) => {
        const getAtt = (value as Json | null)?.['Fn::GetAtt'] as [string, string] | undefined;
        return getAtt ? `lambda:${logicalIdOf(getAtt[0])}` : value;
      }),
    );
    const deployed = JSON.parse(resolved, (key, value: unknown) =>
      key === 'QueryLanguage' && value === 'JSONPath' ? undefined : value,
    );
    expect(deployed).toEqual(expected);
  });

  it('passes asl-validator with Lambda ARNs in place', () => {
    const [text] = definitionString()['Fn::Sub'];
    const definition = JSON.parse(
      text.replace(/\$\{[^}]+\}/g, 'arn:aws:lambda:us-east-1:123456789012:function:step'),
    ) as unknown;
    const result = aslValidator(definition);
    expect(result.isValid, result.errorsText('\n')).toBe(true);
  });
});
