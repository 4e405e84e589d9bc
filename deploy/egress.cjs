'use strict';
/**
 * Local Serverless plugin for the `egress` stage param (see serverless.yml, params and the Egress*
 * resources):
 * - fails packaging on an unknown mode, or on egress=existing without vpcId, privateSubnetIds,
 *   securityGroupIds and natPublicSubnetId (a typo would otherwise deploy without a fixed IP);
 * - for egress=existing, associates each subnet of privateSubnetIds with the stack's private route
 *   table (EgressPrivateSubnetRouteTableAssociation1…N): CloudFormation cannot loop over a
 *   comma-separated list, so the resources are written here, one per subnet, under the same
 *   EgressExisting condition as the rest.
 */
const MODES = ['none', 'create', 'existing'];
const ID = {
  vpcId: /^vpc-[0-9a-zA-Z]+$/,
  subnet: /^subnet-[0-9a-zA-Z]+$/,
  securityGroup: /^sg-[0-9a-zA-Z]+$/,
};

const list = (value) =>
  String(value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

class Egress {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:cleanup': () => this.validate(),
      'after:package:compileFunctions': () => this.addAssociations(),
    };
  }

  params() {
    const e = (this.serverless.service.custom && this.serverless.service.custom.egress) || {};
    return {
      mode: String(e.mode ?? 'none'),
      vpcId: String(e.vpcId ?? '').trim(),
      privateSubnetIds: list(e.privateSubnetIds),
      securityGroupIds: list(e.securityGroupIds),
      natPublicSubnetId: String(e.natPublicSubnetId ?? '').trim(),
    };
  }

  fail(message) {
    throw new this.serverless.classes.Error(`egress: ${message}`, 'HUB_EGRESS_PARAMS');
  }

  validate() {
    const p = this.params();
    if (!MODES.includes(p.mode)) this.fail(`unknown mode "${p.mode}": use one of ${MODES.join(', ')} (--param=egress=…)`);
    if (p.mode !== 'existing') return;
    const problems = [];
    if (!ID.vpcId.test(p.vpcId)) problems.push('vpcId: the VPC of the subnets (vpc-…)');
    if (p.privateSubnetIds.length === 0 || p.privateSubnetIds.length > 16 || !p.privateSubnetIds.every((s) => ID.subnet.test(s)))
      problems.push('privateSubnetIds: 1 to 16 private subnets, comma-separated (subnet-…,subnet-…)');
    if (p.securityGroupIds.length === 0 || p.securityGroupIds.length > 5 || !p.securityGroupIds.every((s) => ID.securityGroup.test(s)))
      problems.push('securityGroupIds: 1 to 5 security groups allowing outbound HTTPS, comma-separated (sg-…)');
    if (!ID.subnet.test(p.natPublicSubnetId)) problems.push('natPublicSubnetId: a public subnet (route to an internet gateway) for the NAT gateway (subnet-…)');
    else if (p.privateSubnetIds.includes(p.natPublicSubnetId)) problems.push('natPublicSubnetId must not be one of privateSubnetIds');
    if (problems.length) this.fail(`egress=existing needs these params:\n  ${problems.join('\n  ')}`);
  }

  addAssociations() {
    const p = this.params();
    if (p.mode !== 'existing') return;
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    p.privateSubnetIds.forEach((subnetId, i) => {
      resources[`EgressPrivateSubnetRouteTableAssociation${i + 1}`] = {
        Type: 'AWS::EC2::SubnetRouteTableAssociation',
        Condition: 'EgressExisting',
        Properties: { SubnetId: subnetId, RouteTableId: { Ref: 'EgressPrivateRouteTableA' } },
      };
    });
  }
}

module.exports = Egress;
