import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allows, coverageProblems, matches, policyProblems, type PolicyDocument } from '../../scripts/check-deploy.js';
import { DEPLOY_ACTIONS, RESOURCE_TYPE_ACTIONS } from '../../scripts/deployer-actions.js';

const read = (file: string) => {
  const text = readFileSync(file, 'utf8');
  return { name: file, doc: JSON.parse(text) as PolicyDocument, text };
};
const base = read('deploy/deployer-policy.json');
const egress = read('deploy/deployer-policy-egress.json');
const clone = (d: PolicyDocument): PolicyDocument => JSON.parse(JSON.stringify(d));
const withStatement = (s: PolicyDocument['Statement'][number]) => {
  const doc = clone(base.doc);
  doc.Statement.push(s);
  const text = JSON.stringify(doc);
  return [{ name: 'p.json', doc, text }];
};

describe('the deployer policy (deploy/deployer-policy.json, scripts/check-deploy.ts)', () => {
  it('matches actions the way IAM does: case-insensitive, with * and ? wildcards', () => {
    expect(matches('lambda:Get*', 'lambda:GetFunctionConfiguration')).toBe(true);
    expect(matches('iam:List*RolePolicies', 'iam:ListAttachedRolePolicies')).toBe(true);
    expect(matches('s3:GetBucket*', 's3:getbucketpolicy')).toBe(true);
    expect(matches('lambda:Get*', 'lambda:UpdateFunctionCode')).toBe(false);
    expect(matches('ec2:Describe?pcs', 'ec2:DescribeVpcs')).toBe(true);
  });

  it('is least privilege as far as a file can show, and each document fits a managed policy', () => {
    expect(policyProblems([base, egress])).toEqual([]);
  });

  it('allows every action of every resource type it knows, EC2 only with the egress document, and what sls deploy calls', () => {
    const types = Object.keys(RESOURCE_TYPE_ACTIONS);
    expect(coverageProblems(types, [base.doc], [egress.doc])).toEqual([]);
    expect(coverageProblems(['AWS::EC2::NatGateway'], [base.doc], [])).toEqual(['AWS::EC2::NatGateway: the policy does not allow ec2:CreateNatGateway, ec2:DeleteNatGateway, ec2:CreateTags']);
    expect(DEPLOY_ACTIONS.every((a) => allows([base.doc], a))).toBe(true);
  });

  it('fails a resource type it does not know, or whose action the policy lacks', () => {
    expect(coverageProblems(['AWS::SQS::Queue'], [base.doc], [egress.doc])[0]).toMatch(/^AWS::SQS::Queue: not in scripts\/deployer-actions\.ts/);
    const noTtl = clone(base.doc);
    for (const s of noTtl.Statement) if (Array.isArray(s.Action)) s.Action = s.Action.filter((a) => a !== 'dynamodb:UpdateTimeToLive');
    expect(coverageProblems(['AWS::DynamoDB::Table'], [noTtl], [egress.doc])).toEqual(['AWS::DynamoDB::Table: the policy does not allow dynamodb:UpdateTimeToLive']);
    const noLogs = clone(base.doc);
    noLogs.Statement = noLogs.Statement.filter((s) => !JSON.stringify(s.Action).includes('"logs:'));
    expect(coverageProblems(['AWS::Logs::LogGroup'], [noLogs], [])[0]).toBe('AWS::Logs::LogGroup: no logs: action in the policy');
  });

  it.each([
    ['a service-wide action', { Sid: 'X', Effect: 'Allow', Action: ['lambda:*'], Resource: 'arn:aws*:lambda:*:*:function:wechat-token-hub-*' }, /X: action lambda:\* allows a whole service/],
    ['every action', { Sid: 'X', Effect: 'Allow', Action: '*', Resource: 'arn:aws*:lambda:*:*:function:wechat-token-hub-*' }, /X: action \* allows a whole service/],
    ['an action the deploy does not need', { Sid: 'X', Effect: 'Allow', Action: ['s3:PutBucketAcl'], Resource: 'arn:aws*:s3:::wechat-token-hub-*' }, /X: action s3:PutBucketAcl is nothing the deploy needs/],
    ['resource "*" where it can be scoped', { Sid: 'X', Effect: 'Allow', Action: ['lambda:CreateFunction'], Resource: '*' }, /X: resource "\*" in a statement that can be scoped/],
    ['a resource outside the service', { Sid: 'X', Effect: 'Allow', Action: ['lambda:CreateFunction'], Resource: 'arn:aws*:lambda:*:*:function:*' }, /X: resource arn:aws\*:lambda:\*:\*:function:\* is not one of the service's/],
    ['a Deny or NotAction statement', { Sid: 'X', Effect: 'Deny', Action: ['lambda:CreateFunction'], Resource: 'arn:aws*:lambda:*:*:function:wechat-token-hub-*' }, /X: only Allow statements/],
  ])('refuses %s', (_what, statement, expected) => {
    expect(policyProblems(withStatement(statement)).join('\n')).toMatch(expected);
  });

  it('refuses a document over IAM\'s 6,144 characters', () => {
    const doc = clone(base.doc);
    doc.Statement.push({ Sid: 'Big', Effect: 'Allow', Action: Array.from({ length: 200 }, () => 'lambda:GetFunction'), Resource: 'arn:aws*:lambda:*:*:function:wechat-token-hub-*' });
    expect(policyProblems([{ name: 'p.json', doc, text: JSON.stringify(doc) }]).join('\n')).toMatch(/characters without whitespace, over IAM's 6144/);
  });
});
