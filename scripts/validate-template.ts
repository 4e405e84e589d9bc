/**
 * npx tsx scripts/validate-template.ts [--variants] [package dir…]
 *
 * After `npx sls package`: every CloudFormation template in the package directories (default
 * .serverless: the create-stack and the update-stack template) checked against CloudFormation's
 * resource specification (scripts/cfn-spec.ts): resource types, property names at any depth,
 * required properties, value shapes, references. A property typo fails here, not in a deploy.
 *
 * --variants also packages the stack with the stage params that change the template's shape
 * (egress=create with authorizer=iam and an alarm e-mail; egress=existing) into temporary
 * directories and checks those templates too (and puts .serverless back as it was).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSpec, validateTemplate } from './cfn-spec.js';

const IAM_PRINCIPALS = JSON.stringify([{ name: 'orders', arn: 'arn:aws:iam::123456789012:role/orders', apps: ['*'], scopes: ['read'] }]);

const { values, positionals } = parseArgs({ options: { variants: { type: 'boolean' } }, allowPositionals: true });
const dirs = positionals.length ? positionals : ['.serverless'];

const specVersion = (createRequire(import.meta.url)('@aws-cdk/aws-service-spec/package.json') as { version: string }).version;
const spec = loadSpec();
console.log(`CloudFormation resource specification: @aws-cdk/aws-service-spec ${specVersion}`);

let passed = 0;
let failed = 0;
const checkDir = (dir: string, label: string) => {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^cloudformation-template-.*\.json$/.test(f)) : [];
  if (files.length === 0) {
    console.log(`FAIL ${label}: no cloudformation-template-*.json in ${dir} (run npx sls package first)`);
    failed++;
    return;
  }
  for (const f of files) {
    const template = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const problems = validateTemplate(template, spec);
    const count = Object.keys(template.Resources ?? {}).length;
    if (problems.length === 0) {
      console.log(`ok   ${label} ${f}: ${count} resources match the specification`);
      passed++;
    } else {
      console.log(`FAIL ${label} ${f}: ${problems.length} problem(s)`);
      for (const p of problems) console.log(`       ${p.where}: ${p.message}`);
      failed++;
    }
  }
};

for (const dir of dirs) checkDir(dir, dir);

if (values.variants) {
  const work = mkdtempSync(join(tmpdir(), 'hub-validate-'));
  // Each variant goes to its own directory; `sls package` clears .serverless first, so it is put back afterwards.
  const saved = join(work, 'saved');
  const hadPackage = existsSync('.serverless');
  if (hadPackage) cpSync('.serverless', saved, { recursive: true });
  const variants: [string, string[]][] = [
    // authorizer=iam needs its principals: without them the configuration is refused at package time.
    ['egress=create,authorizer=iam', ['egress=create', 'authorizer=iam', `iamPrincipals=${IAM_PRINCIPALS}`, 'alarmEmail=ops@example.com']],
    ['egress=existing', ['egress=existing', 'vpcId=vpc-1', 'privateSubnetIds=subnet-a,subnet-b', 'securityGroupIds=sg-1', 'natPublicSubnetId=subnet-p']],
  ];
  try {
    for (const [label, params] of variants) {
      const out = join(work, label.replace(/[^a-z]+/g, '-'));
      const run = spawnSync('npx', ['sls', 'package', '--package', out, ...params.map((p) => `--param=${p}`)], { encoding: 'utf8', timeout: 180_000 });
      if (run.status !== 0) {
        console.log(`FAIL ${label}: sls package failed\n${`${run.stdout}${run.stderr}`.slice(-2000)}`);
        failed++;
        continue;
      }
      checkDir(out, label);
    }
  } finally {
    rmSync('.serverless', { recursive: true, force: true });
    if (hadPackage) cpSync(saved, '.serverless', { recursive: true });
    rmSync(work, { recursive: true, force: true });
  }
}

console.log(`templates: ${passed} valid, ${failed} invalid`);
process.exit(failed ? 1 : 0);
