/**
 * npx tsx scripts/check-deploy.ts [package dir…]   (after `npx sls package`; default .serverless)
 *
 * What the README's Deployment section promises about a package, checked:
 * 1. The deployer's IAM policy (deploy/deployer-policy.json, plus deploy/deployer-policy-egress.json
 *    for egress=create/existing) covers the stack: every resource type in the packaged templates
 *    is known (scripts/deployer-actions.ts), its service prefix appears in the policy, and each of
 *    its create/update/delete/read actions is allowed, as is every action `sls deploy` calls itself.
 * 2. The policy is least privilege as far as a file can show: only Allow statements, no "*" or
 *    "service:*" action, each action one the deploy needs, "*" as the resource only where the
 *    action cannot be scoped, every other resource under the service's names (wechat-token-hub-*)
 *    but the HTTP API's (API Gateway names it by a generated id: /apis/*),
 *    each document within IAM's 6,144-character limit for a managed policy.
 * 3. Every function's source map is kept in <package>/sourcemaps/ and its sources resolve.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEPLOY_ACTIONS, OTHER_ACTIONS, RESOURCE_TYPE_ACTIONS } from './deployer-actions.js';

export interface Statement {
  Sid?: string;
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: string | string[];
  Condition?: unknown;
}
export interface PolicyDocument {
  Version: string;
  Statement: Statement[];
}

/** Statements whose actions cannot be scoped to the stack's resources (resource "*"). */
export const ANY_RESOURCE = ['ValidateAnyTemplate', 'HttpApiAccessLogDelivery', 'NetworkReadOnly', 'AlarmStatesAndMetricsReadOnly', 'EgressNetwork'];
/** Statements scoped to a kind of resource, not by name: API Gateway names an API by an id it generates. */
export const TYPE_SCOPED = ['HttpApi'];
const NAME = 'wechat-token-hub';
const MANAGED_POLICY_LIMIT = 6144;

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
/** IAM's action matching: case-insensitive, `*` and `?` wildcards. */
export const matches = (pattern: string, action: string) =>
  new RegExp(`^${pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`, 'i').test(action);
export const allows = (docs: PolicyDocument[], action: string) => docs.some((d) => d.Statement.some((s) => s.Effect === 'Allow' && list(s.Action).some((p) => matches(p, action))));

/** Problems with the policy documents themselves (part 2). */
export function policyProblems(docs: { name: string; doc: PolicyDocument; text: string }[]): string[] {
  const needed = [...new Set([...Object.values(RESOURCE_TYPE_ACTIONS).flatMap((t) => t.actions), ...DEPLOY_ACTIONS, ...OTHER_ACTIONS])];
  const problems: string[] = [];
  for (const { name, doc, text } of docs) {
    if (doc.Version !== '2012-10-17') problems.push(`${name}: Version must be 2012-10-17`);
    const size = text.replace(/\s/g, '').length;
    if (size > MANAGED_POLICY_LIMIT) problems.push(`${name}: ${size} characters without whitespace, over IAM's ${MANAGED_POLICY_LIMIT} for a managed policy`);
    for (const s of doc.Statement) {
      const where = `${name} ${s.Sid ?? '(no Sid)'}`;
      if (s.Effect !== 'Allow' || s.NotAction !== undefined) problems.push(`${where}: only Allow statements with Action`);
      for (const a of list(s.Action)) {
        if (a === '*' || /^[a-z0-9-]+:\*$/i.test(a)) problems.push(`${where}: action ${a} allows a whole service`);
        else if (!needed.some((n) => matches(a, n))) problems.push(`${where}: action ${a} is nothing the deploy needs (scripts/deployer-actions.ts)`);
      }
      const resources = list(s.Resource);
      if (resources.length === 0) problems.push(`${where}: no Resource`);
      if (resources.includes('*') && !ANY_RESOURCE.includes(s.Sid ?? '')) problems.push(`${where}: resource "*" in a statement that can be scoped`);
      for (const r of resources) if (r !== '*' && !r.includes(NAME) && !TYPE_SCOPED.includes(s.Sid ?? '')) problems.push(`${where}: resource ${r} is not one of the service's (${NAME}…)`);
    }
  }
  return problems;
}

/** The resource types of a template that the policies do not cover (part 1). */
export function coverageProblems(types: string[], base: PolicyDocument[], egress: PolicyDocument[]): string[] {
  const problems: string[] = [];
  for (const type of [...new Set(types)].sort()) {
    const entry = RESOURCE_TYPE_ACTIONS[type];
    if (!entry) {
      problems.push(`${type}: not in scripts/deployer-actions.ts; add the actions CloudFormation needs for it there and to deploy/deployer-policy.json`);
      continue;
    }
    const docs = type.startsWith('AWS::EC2::') ? [...base, ...egress] : base;
    if (!docs.some((d) => d.Statement.some((s) => list(s.Action).some((a) => a.toLowerCase().startsWith(`${entry.prefix}:`))))) problems.push(`${type}: no ${entry.prefix}: action in the policy`);
    const missing = entry.actions.filter((a) => !allows(docs, a));
    if (missing.length) problems.push(`${type}: the policy does not allow ${missing.join(', ')}`);
  }
  const deploy = DEPLOY_ACTIONS.filter((a) => !allows(base, a));
  if (deploy.length) problems.push(`sls deploy itself: the policy does not allow ${deploy.join(', ')}`);
  return problems;
}

/** Functions whose source map is not kept beside the package, or whose sources do not resolve (part 3). */
export function sourceMapProblems(dir: string, handlers: string[]): string[] {
  const problems: string[] = [];
  for (const handler of handlers) {
    const file = join(dir, 'sourcemaps', `${handler.slice(0, handler.lastIndexOf('.'))}.mjs.map`);
    if (!existsSync(file)) {
      problems.push(`${handler}: no source map at ${file}`);
      continue;
    }
    const map = JSON.parse(readFileSync(file, 'utf8')) as { sources?: string[] };
    const lost = (map.sources ?? []).filter((s) => !existsSync(resolve(dirname(file), s)));
    if (!map.sources?.length || lost.length) problems.push(`${handler}: ${lost.length} of ${map.sources?.length ?? 0} sources do not resolve (first: ${lost[0]})`);
  }
  return problems;
}

const readPolicy = (file: string) => {
  const text = readFileSync(file, 'utf8');
  return { name: file, doc: JSON.parse(text) as PolicyDocument, text };
};

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const dirs = process.argv.slice(2).length ? process.argv.slice(2) : ['.serverless'];
  const base = readPolicy('deploy/deployer-policy.json');
  const egress = readPolicy('deploy/deployer-policy-egress.json');
  let failed = 0;
  const report = (what: string, problems: string[]) => {
    console.log(`${problems.length ? 'FAIL' : 'ok  '} ${what}`);
    for (const p of problems) console.log(`       ${p}`);
    if (problems.length) failed++;
  };
  report('deployer policy: least privilege (Allow only, no service-wide action, each action needed, resources scoped)', policyProblems([base, egress]));
  for (const dir of dirs) {
    const templates = readdirSync(dir).filter((f) => /^cloudformation-template-.*\.json$/.test(f)).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
    const resources = templates.flatMap((t) => Object.values(t.Resources ?? {}) as { Type: string; Properties?: { Handler?: string } }[]);
    const types = resources.map((r) => r.Type);
    report(`${dir}: the deployer policy covers every resource type of the templates (${new Set(types).size} types)`, templates.length ? coverageProblems(types, [base.doc], [egress.doc]) : [`no template in ${dir}`]);
    const handlers = resources.filter((r) => r.Type === 'AWS::Lambda::Function').map((r) => String(r.Properties?.Handler));
    report(`${dir}: a source map per function in ${dir}/sourcemaps/ (${handlers.length} functions), its sources resolving`, handlers.length ? sourceMapProblems(dir, handlers) : ['no function']);
  }
  console.log(failed ? `${failed} deploy check(s) failed` : 'deploy checks passed');
  process.exit(failed ? 1 : 0);
}
