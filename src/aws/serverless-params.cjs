// A local Serverless Framework plugin: checks the deployment parameters (params: in serverless.yml,
// --param on the command line) before anything is packaged, and turns the image allow-list into the
// SageMaker execution role's ECR statement and the IMAGE_REPOSITORIES variable BuildManifest checks.
//
// Why here: CloudFormation would accept most bad values and fail later (an alias ARN as kmsKeyArn
// deploys, then authorizes nothing; an inputPrefix without its slash widens every IAM grant).
'use strict';

// SageMaker's XGBoost inference images (repository sagemaker-xgboost, versions 0.90-1 to 1.7-1), by
// region: sagemaker-python-sdk src/sagemaker/image_uri_config/xgboost.json. docs/aws.md lists them.
const XGBOOST_REGISTRY_ACCOUNTS = {
  'af-south-1': '510948584623',
  'ap-east-1': '651117190479',
  'ap-northeast-1': '354813040037',
  'ap-northeast-2': '366743142698',
  'ap-northeast-3': '867004704886',
  'ap-south-1': '720646828776',
  'ap-south-2': '628508329040',
  'ap-southeast-1': '121021644041',
  'ap-southeast-2': '783357654285',
  'ap-southeast-3': '951798379941',
  'ap-southeast-4': '106583098589',
  'ca-central-1': '341280168497',
  'ca-west-1': '190319476487',
  'eu-central-1': '492215442770',
  'eu-central-2': '680994064768',
  'eu-north-1': '662702820516',
  'eu-south-1': '978288397137',
  'eu-south-2': '104374241257',
  'eu-west-1': '141502667606',
  'eu-west-2': '764974769150',
  'eu-west-3': '659782779980',
  'il-central-1': '898809789911',
  'me-central-1': '272398656194',
  'me-south-1': '801668240914',
  'sa-east-1': '737474898029',
  'us-east-1': '683313688378',
  'us-east-2': '257758044811',
  'us-west-1': '746614075791',
  'us-west-2': '246618743249',
};

const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const ALIAS_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:alias\//;
// <account>.dkr.ecr.<region>.amazonaws.com/<repository>, or /* for every repository of that registry.
const REPOSITORY = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9][a-z0-9._/-]*|\*)$/;

/** The image allow-list for a region: the given entries, or the region's SageMaker XGBoost repository. */
function imageRepositories(value, region) {
  const entries = String(value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length > 0) return entries;
  const account = XGBOOST_REGISTRY_ACCOUNTS[region];
  if (!account) return [];
  return [`${account}.dkr.ecr.${region}.amazonaws.com/sagemaker-xgboost`];
}

/** Every problem with the resolved parameters, as messages naming the parameter and the fix. */
function paramProblems(params, region) {
  const problems = [];
  const prefix = String(params.inputPrefix ?? '');
  if (!/^[^/*?][^*?]*\/$/.test(prefix)) {
    problems.push(
      `inputPrefix "${prefix}" must be a key prefix ending in "/" without wildcards or a leading "/" (e.g. incoming/): IAM grants and the EventBridge rule are built from it`,
    );
  }
  for (const name of ['kmsKeyArn', 'volumeKmsKeyArn']) {
    const arn = String(params[name] ?? '');
    if (arn === '') continue;
    if (ALIAS_ARN.test(arn)) {
      problems.push(
        `${name} "${arn}" is an alias ARN: IAM policies on an alias authorize no use of the key. Give the key ARN: aws kms describe-key --key-id ${arn} --query KeyMetadata.Arn`,
      );
    } else if (!KEY_ARN.test(arn)) {
      problems.push(`${name} "${arn}" is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key-id>)`);
    }
  }
  const subnets = String(params.subnetIds ?? '').trim();
  const groups = String(params.securityGroupIds ?? '').trim();
  if ((subnets === '') !== (groups === '')) {
    problems.push('subnetIds and securityGroupIds go together: give both (comma-separated) or neither');
  }
  const repositories = imageRepositories(params.imageRepositories, region);
  if (repositories.length === 0) {
    problems.push(
      `imageRepositories is empty and region ${region} has no SageMaker XGBoost registry known here: list the ECR repositories models may use`,
    );
  }
  for (const entry of repositories) {
    const match = REPOSITORY.exec(entry);
    if (!match) {
      problems.push(
        `imageRepositories entry "${entry}" is not <account>.dkr.ecr.<region>.amazonaws.com/<repository> (or /* for a whole registry), without a tag`,
      );
    } else if (match[2] !== region) {
      problems.push(
        `imageRepositories entry "${entry}" is in ${match[2]}, but the stack deploys to ${region}: SageMaker pulls images from its own region`,
      );
    }
  }
  return problems;
}

/** The ECR repository ARNs (CloudFormation Fn::Sub strings) for the allow-list. */
function repositoryArns(repositories) {
  return repositories.map((entry) => {
    const [, account, region, repository] = REPOSITORY.exec(entry);
    return { 'Fn::Sub': `arn:\${AWS::Partition}:ecr:${region}:${account}:repository/${repository}` };
  });
}

class DeploymentParamsPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:initialize': () => this.apply(),
      'before:deploy:function:initialize': () => this.apply(),
    };
  }

  apply() {
    const service = this.serverless.service;
    const region = service.provider.region;
    const environment = service.provider.environment ?? {};
    const params = {
      inputPrefix: environment.INPUT_PREFIX,
      kmsKeyArn: environment.TRANSFORM_KMS_KEY_ID,
      volumeKmsKeyArn: environment.TRANSFORM_VOLUME_KMS_KEY_ID,
      subnetIds: environment.SUBNET_IDS,
      securityGroupIds: environment.SECURITY_GROUP_IDS,
      imageRepositories: environment.IMAGE_REPOSITORIES,
    };
    const problems = paramProblems(params, region);
    if (problems.length > 0) {
      throw new this.serverless.classes.Error(`Invalid deployment parameters:\n- ${problems.join('\n- ')}`);
    }
    const repositories = imageRepositories(params.imageRepositories, region);
    environment.IMAGE_REPOSITORIES = repositories.join(',');
    const role = service.resources?.Resources?.SageMakerExecutionRole;
    const statements = role?.Properties?.Policies?.[0]?.PolicyDocument?.Statement ?? [];
    const pull = statements.find((s) => s && s.Sid === 'PullModelImages');
    if (!pull) {
      throw new this.serverless.classes.Error(
        'serverless.yml: the SageMakerExecutionRole statement PullModelImages is missing',
      );
    }
    pull.Resource = repositoryArns(repositories);
  }
}

module.exports = DeploymentParamsPlugin;
module.exports.paramProblems = paramProblems;
module.exports.imageRepositories = imageRepositories;
module.exports.XGBOOST_REGISTRY_ACCOUNTS = XGBOOST_REGISTRY_ACCOUNTS;
