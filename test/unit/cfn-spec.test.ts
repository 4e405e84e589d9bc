import { beforeAll, describe, expect, it } from 'vitest';
import { loadSpec, validateTemplate, type Spec } from '../../scripts/cfn-spec.js';

let spec: Spec;
beforeAll(() => {
  spec = loadSpec();
});

/** A small template in the stack's own shapes: a table, an Elastic IP with a NAT gateway behind a condition, a dashboard. */
function template(): any {
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Conditions: { HasEgress: { 'Fn::Equals': ['create', 'create'] } },
    Resources: {
      Table: {
        Type: 'AWS::DynamoDB::Table',
        DeletionPolicy: 'Retain',
        Properties: {
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        },
      },
      Eip: { Type: 'AWS::EC2::EIP', Condition: 'HasEgress', Properties: { Domain: 'vpc', Tags: [{ Key: 'Name', Value: 'hub' }] } },
      Nat: {
        Type: 'AWS::EC2::NatGateway',
        Condition: 'HasEgress',
        Properties: { AllocationId: { 'Fn::GetAtt': ['Eip', 'AllocationId'] }, SubnetId: { 'Fn::If': ['HasEgress', 'subnet-1', { Ref: 'AWS::NoValue' }] } },
      },
      Endpoint: { Type: 'AWS::EC2::VPCEndpoint', Properties: { VpcEndpointType: 'Gateway', ServiceName: { 'Fn::Sub': 'com.amazonaws.${AWS::Region}.dynamodb' }, VpcId: 'vpc-1' } },
      Logs: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/aws/lambda/hub', RetentionInDays: 30 } },
      Board: { Type: 'AWS::CloudWatch::Dashboard', Properties: { DashboardBody: { 'Fn::Sub': '{"region": "${AWS::Region}", "table": "${Table}", "arn": "${Table.Arn}"}' } } },
    },
    Outputs: { EgressIp: { Condition: 'HasEgress', Value: { 'Fn::GetAtt': ['Eip', 'PublicIp'] } } },
  };
}

const problems = (change: (t: any) => void) => {
  const t = template();
  change(t);
  return validateTemplate(t, spec).map((p) => `${p.where}: ${p.message}`);
};

describe('the CloudFormation template validation (scripts/validate-template.ts)', () => {
  it('passes a template that matches the specification, intrinsic functions and conditions included', () => {
    expect(validateTemplate(template(), spec)).toEqual([]);
  });

  it.each([
    ['a misspelt property', (t: any) => (t.Resources.Table.Properties.BilingMode = 'PAY_PER_REQUEST'), /Resources\.Table\.Properties\.BilingMode: unknown property of AWS::DynamoDB::Table \(known: .*BillingMode/],
    ['a misspelt nested property', (t: any) => (t.Resources.Table.Properties.PointInTimeRecoverySpecification = { PointInTimeRecoveryEnable: true }), /PointInTimeRecoverySpecification\.PointInTimeRecoveryEnable: unknown property of PointInTimeRecoverySpecification/],
    ['a misspelt property in a list item', (t: any) => (t.Resources.Table.Properties.KeySchema = [{ AttributeName: 'pk', Keytype: 'HASH' }]), /KeySchema\[0\]\.Keytype: unknown property/],
    ['a misspelt tag field', (t: any) => (t.Resources.Eip.Properties.Tags = [{ Key: 'Name', Valeu: 'hub' }]), /Tags\[0\]\.Valeu: unknown property of a tag/],
    ['a missing required property', (t: any) => delete t.Resources.Table.Properties.KeySchema, /Resources\.Table\.Properties: AWS::DynamoDB::Table requires "KeySchema"/],
    ['a missing required nested property', (t: any) => (t.Resources.Table.Properties.TimeToLiveSpecification = { AttributeName: 'ttl' }), /TimeToLiveSpecification: TimeToLiveSpecification requires "Enabled"/],
    ['a type that does not exist', (t: any) => (t.Resources.Table.Type = 'AWS::DynamoDB::Tabel'), /resource type AWS::DynamoDB::Tabel does not exist/],
    ['an object where a list belongs', (t: any) => (t.Resources.Table.Properties.KeySchema = { AttributeName: 'pk', KeyType: 'HASH' }), /KeySchema: must be a list, not an object/],
    ['a list in the false branch of an Fn::If', (t: any) => (t.Resources.Nat.Properties.SubnetId = { 'Fn::If': ['HasEgress', 'subnet-1', ['subnet-2']] }), /SubnetId\(if false\): must be a string, not a list/],
    ['an attribute the resource does not have', (t: any) => (t.Outputs.EgressIp.Value = { 'Fn::GetAtt': ['Eip', 'PublicIP'] }), /AWS::EC2::EIP has no attribute "PublicIP"/],
    ['a Ref to nothing', (t: any) => (t.Resources.Nat.Properties.SubnetId = { Ref: 'PublicSubnet' }), /Ref to "PublicSubnet", which is no resource or parameter/],
    ['an Fn::Sub variable that names nothing', (t: any) => (t.Resources.Board.Properties.DashboardBody = { 'Fn::Sub': '${Tabel}' }), /Fn::Sub names "\$\{Tabel\}"/],
    ['an undefined condition', (t: any) => (t.Resources.Eip.Condition = 'HasEgres'), /Resources\.Eip\.Condition: condition "HasEgres" is not defined/],
    ['a misspelt resource attribute', (t: any) => (t.Resources.Table.DeletionPolcy = 'Retain'), /unknown resource attribute "DeletionPolcy"/],
    ['a DeletionPolicy CloudFormation does not know', (t: any) => (t.Resources.Table.DeletionPolicy = 'Keep'), /DeletionPolicy: must be one of Delete, Retain/],
    ['a string outside the allowed ones', (t: any) => (t.Resources.Endpoint.Properties.VpcEndpointType = 'gateway'), /VpcEndpointType: "gateway" is not one of Interface, Gateway/],
    ['a number outside the allowed ones', (t: any) => (t.Resources.Logs.Properties.RetentionInDays = 31), /RetentionInDays: 31 is not one of 1, 3, 5, 7, 14, 30/],
  ])('fails %s, naming the resource and the path', (_what, change, expected) => {
    const found = problems(change);
    expect(found.length).toBeGreaterThan(0);
    expect(found.join('\n')).toMatch(expected);
  });
});
