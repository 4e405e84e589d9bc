/**
 * The IAM actions whoever runs `sls deploy` needs, per CloudFormation resource type of the stack
 * and for the deploy itself: what deploy/deployer-policy.json must allow (scripts/check-deploy.ts
 * checks that it does, for every resource type the packaged templates contain).
 *
 * CloudFormation creates, updates and deletes each resource with the caller's credentials (the
 * stack has no service role), so the caller needs each resource type's handler actions. Sources:
 * - resource types with a registry schema: the schema's create, update, delete and read handler
 *   permissions (the CloudFormation registry schemas as aws-cloudformation/cfn-lint ships them,
 *   providers/us_east_1/*.json, commit 3001eb50, 2024-06-27), limited to what this stack's
 *   properties use (no Kinesis streams, code signing, EFS, customer KMS keys, imports), plus
 *   tagging: CloudFormation tags every taggable resource with its aws:cloudformation:* tags;
 * - types whose schema has no handlers (ApiGatewayV2 Integration and Stage, CloudWatch Dashboard,
 *   SNS Subscription): the service API calls that create, change and delete them (API Gateway
 *   authorizes by HTTP verb on the resource path, apigateway:POST/PATCH/DELETE/GET); HTTP API
 *   access logs need the log delivery actions API Gateway's developer guide lists ("Configuring
 *   logging for an HTTP API");
 * - the deploy itself: the SDK commands osls 4.3.1 sends (lib/plugins/aws/deploy, lib/plugins/aws/lib):
 *   change sets, stack events and resources, the template; the deployment bucket's objects.
 * Unverified against a live account: nothing here can be deployed (see the README, Deployment).
 */
export interface TypeActions {
  /** The IAM service prefix the type's actions use. */
  prefix: string;
  actions: string[];
}

const apigatewayVerbs = ['apigateway:GET', 'apigateway:POST', 'apigateway:PUT', 'apigateway:PATCH', 'apigateway:DELETE'];

export const RESOURCE_TYPE_ACTIONS: Record<string, TypeActions> = {
  'AWS::S3::Bucket': { prefix: 's3', actions: ['s3:CreateBucket', 's3:DeleteBucket', 's3:ListBucket', 's3:PutEncryptionConfiguration', 's3:GetEncryptionConfiguration', 's3:PutBucketTagging', 's3:GetBucketTagging'] },
  'AWS::S3::BucketPolicy': { prefix: 's3', actions: ['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy'] },
  'AWS::Logs::LogGroup': { prefix: 'logs', actions: ['logs:CreateLogGroup', 'logs:DeleteLogGroup', 'logs:DescribeLogGroups', 'logs:PutRetentionPolicy', 'logs:DeleteRetentionPolicy', 'logs:TagResource', 'logs:UntagResource', 'logs:ListTagsForResource'] },
  'AWS::IAM::Role': {
    prefix: 'iam',
    actions: ['iam:CreateRole', 'iam:DeleteRole', 'iam:GetRole', 'iam:UpdateRole', 'iam:UpdateAssumeRolePolicy', 'iam:PutRolePolicy', 'iam:GetRolePolicy', 'iam:DeleteRolePolicy', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies', 'iam:TagRole', 'iam:UntagRole', 'iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
  },
  'AWS::Lambda::Function': {
    prefix: 'lambda',
    actions: [
      'lambda:CreateFunction', 'lambda:DeleteFunction', 'lambda:GetFunction', 'lambda:UpdateFunctionCode', 'lambda:UpdateFunctionConfiguration',
      'lambda:PutFunctionConcurrency', 'lambda:DeleteFunctionConcurrency', 'lambda:TagResource', 'lambda:UntagResource', 'lambda:ListTags',
      'lambda:GetRuntimeManagementConfig', 'lambda:PutRuntimeManagementConfig', 'lambda:GetFunctionCodeSigningConfig',
      // The code is read from the deployment bucket, the role passed to Lambda, the VPC looked up (egress).
      's3:GetObject', 'iam:PassRole', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs', 'ec2:DescribeNetworkInterfaces',
    ],
  },
  'AWS::Lambda::Version': { prefix: 'lambda', actions: ['lambda:PublishVersion', 'lambda:GetFunctionConfiguration', 'lambda:DeleteFunction', 'lambda:ListVersionsByFunction'] },
  'AWS::Lambda::Permission': { prefix: 'lambda', actions: ['lambda:AddPermission', 'lambda:RemovePermission', 'lambda:GetPolicy'] },
  'AWS::Events::Rule': { prefix: 'events', actions: ['events:PutRule', 'events:DeleteRule', 'events:DescribeRule', 'events:PutTargets', 'events:RemoveTargets', 'events:ListTargetsByRule'] },
  'AWS::ApiGatewayV2::Api': { prefix: 'apigateway', actions: apigatewayVerbs },
  'AWS::ApiGatewayV2::Stage': {
    prefix: 'apigateway',
    actions: [...apigatewayVerbs, 'logs:CreateLogDelivery', 'logs:PutResourcePolicy', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:DescribeResourcePolicies', 'logs:GetLogDelivery', 'logs:ListLogDeliveries'],
  },
  'AWS::ApiGatewayV2::Integration': { prefix: 'apigateway', actions: apigatewayVerbs },
  'AWS::ApiGatewayV2::Route': { prefix: 'apigateway', actions: apigatewayVerbs },
  'AWS::DynamoDB::Table': {
    prefix: 'dynamodb',
    actions: [
      'dynamodb:CreateTable', 'dynamodb:DeleteTable', 'dynamodb:DescribeTable', 'dynamodb:UpdateTable', 'dynamodb:DescribeTimeToLive', 'dynamodb:UpdateTimeToLive',
      'dynamodb:DescribeContinuousBackups', 'dynamodb:UpdateContinuousBackups', 'dynamodb:DescribeContributorInsights', 'dynamodb:DescribeKinesisStreamingDestination',
      'dynamodb:ListTagsOfResource', 'dynamodb:TagResource', 'dynamodb:UntagResource', 'dynamodb:GetResourcePolicy',
    ],
  },
  'AWS::SNS::Topic': { prefix: 'sns', actions: ['sns:CreateTopic', 'sns:DeleteTopic', 'sns:GetTopicAttributes', 'sns:SetTopicAttributes', 'sns:TagResource', 'sns:UntagResource', 'sns:ListTagsForResource', 'sns:ListSubscriptionsByTopic'] },
  'AWS::SNS::Subscription': { prefix: 'sns', actions: ['sns:Subscribe', 'sns:Unsubscribe', 'sns:GetSubscriptionAttributes', 'sns:SetSubscriptionAttributes'] },
  'AWS::CloudWatch::Alarm': { prefix: 'cloudwatch', actions: ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms', 'cloudwatch:DescribeAlarms', 'cloudwatch:TagResource', 'cloudwatch:UntagResource', 'cloudwatch:ListTagsForResource'] },
  'AWS::CloudWatch::Dashboard': { prefix: 'cloudwatch', actions: ['cloudwatch:PutDashboard', 'cloudwatch:GetDashboard', 'cloudwatch:DeleteDashboards'] },
  // egress=create and egress=existing only.
  'AWS::EC2::VPC': { prefix: 'ec2', actions: ['ec2:CreateVpc', 'ec2:DeleteVpc', 'ec2:DescribeVpcs', 'ec2:ModifyVpcAttribute', 'ec2:DescribeVpcAttribute', 'ec2:CreateTags', 'ec2:DeleteTags'] },
  'AWS::EC2::InternetGateway': { prefix: 'ec2', actions: ['ec2:CreateInternetGateway', 'ec2:DeleteInternetGateway', 'ec2:DescribeInternetGateways', 'ec2:CreateTags'] },
  'AWS::EC2::VPCGatewayAttachment': { prefix: 'ec2', actions: ['ec2:AttachInternetGateway', 'ec2:DetachInternetGateway', 'ec2:DescribeInternetGateways'] },
  // Fn::GetAZs (the subnets' zones) is answered with the caller's ec2:DescribeAvailabilityZones.
  'AWS::EC2::Subnet': { prefix: 'ec2', actions: ['ec2:CreateSubnet', 'ec2:DeleteSubnet', 'ec2:DescribeSubnets', 'ec2:ModifySubnetAttribute', 'ec2:CreateTags', 'ec2:DescribeAvailabilityZones'] },
  'AWS::EC2::RouteTable': { prefix: 'ec2', actions: ['ec2:CreateRouteTable', 'ec2:DeleteRouteTable', 'ec2:DescribeRouteTables', 'ec2:CreateTags'] },
  'AWS::EC2::Route': { prefix: 'ec2', actions: ['ec2:CreateRoute', 'ec2:DeleteRoute', 'ec2:ReplaceRoute', 'ec2:DescribeRouteTables'] },
  'AWS::EC2::SubnetRouteTableAssociation': { prefix: 'ec2', actions: ['ec2:AssociateRouteTable', 'ec2:DisassociateRouteTable', 'ec2:ReplaceRouteTableAssociation', 'ec2:DescribeRouteTables'] },
  'AWS::EC2::SecurityGroup': {
    prefix: 'ec2',
    actions: ['ec2:CreateSecurityGroup', 'ec2:DeleteSecurityGroup', 'ec2:DescribeSecurityGroups', 'ec2:AuthorizeSecurityGroupEgress', 'ec2:RevokeSecurityGroupEgress', 'ec2:RevokeSecurityGroupIngress', 'ec2:CreateTags'],
  },
  'AWS::EC2::EIP': { prefix: 'ec2', actions: ['ec2:AllocateAddress', 'ec2:ReleaseAddress', 'ec2:DescribeAddresses', 'ec2:DisassociateAddress', 'ec2:CreateTags'] },
  'AWS::EC2::NatGateway': { prefix: 'ec2', actions: ['ec2:CreateNatGateway', 'ec2:DeleteNatGateway', 'ec2:DescribeNatGateways', 'ec2:CreateTags'] },
  'AWS::EC2::VPCEndpoint': { prefix: 'ec2', actions: ['ec2:CreateVpcEndpoint', 'ec2:DeleteVpcEndpoints', 'ec2:ModifyVpcEndpoint', 'ec2:DescribeVpcEndpoints'] },
};

/** What `sls deploy` (and `sls remove`, `sls info`) call themselves, whatever the template holds. */
export const DEPLOY_ACTIONS = [
  // lib/plugins/aws/lib/update-stack.js, deploy/lib/create-stack.js, wait-for-change-set-creation.js, monitor-stack.js
  'cloudformation:CreateChangeSet', 'cloudformation:DescribeChangeSet', 'cloudformation:ExecuteChangeSet', 'cloudformation:DeleteChangeSet',
  'cloudformation:CreateStack', 'cloudformation:UpdateStack', 'cloudformation:DescribeStacks', 'cloudformation:DescribeStackEvents',
  // provider.js, check-for-changes.js, ensure-valid-bucket-exists.js, validate-template.js, remove/lib/stack.js
  'cloudformation:DescribeStackResource', 'cloudformation:DescribeStackResources', 'cloudformation:ListStackResources', 'cloudformation:GetTemplate',
  'cloudformation:ValidateTemplate', 'cloudformation:DeleteStack',
  // upload-artifacts.js (lib-storage Upload), check-for-changes.js (ListObjectsV2, HeadObject), cleanup-s3-bucket.js (DeleteObjects)
  's3:PutObject', 's3:GetObject', 's3:ListBucket', 's3:DeleteObject',
  // remove/lib/bucket.js: sls remove empties the bucket, versions included (ListObjectVersions, DeleteObjects)
  's3:ListBucketVersions', 's3:DeleteObjectVersion',
  // check-for-changes.js: each function's current code hash
  'lambda:GetFunction',
];

/**
 * Also in the policy, beyond what CloudFormation and osls call: the README's setup steps (the
 * AppSecrets, the key list and the apps in SSM under /wechat-token-hub/), the smoke test's reads
 * (npm run smoke: alarm states, the tick's invocations) and reads the SDKs make on the way
 * (GetBucketLocation, GetObjectVersion, any other EC2 Describe call).
 */
export const OTHER_ACTIONS = [
  'ssm:PutParameter', 'ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath', 'ssm:DeleteParameter',
  'cloudwatch:DescribeAlarms', 'cloudwatch:GetMetricStatistics',
  's3:GetBucketLocation', 's3:GetObjectVersion', 'ec2:Describe*',
];
