/**
 * npm run smoke -- --url <hub URL> --key <admin API key> [--stage <stage>] [--region <region>] [--no-aws]
 *
 * After a deploy: every route answers as documented (scripts/smoke-http.ts; nothing it sends makes
 * the hub call WeChat, so no token is fetched and no quota spent), the tick has refreshed each
 * app's token, and, with AWS credentials, the alarms exist and the tick's Lambda ran
 * (scripts/smoke-aws.ts). Against `npm start` (a loopback URL) the AWS part is skipped: there is no
 * stack. Exit status 1 when a check fails.
 */
import { commandOptions } from './cli.js';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { awsChecks } from './smoke-aws.js';
import { httpChecks, type Result } from './smoke-http.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const USAGE = `usage: npm run smoke -- --url <hub URL> --key <API key with the admin scope> [--stage <stage>] [--region <region>] [--no-aws]

  --url      the HTTP API's URL (sls deploy prints it: https://<id>.execute-api.<region>.amazonaws.com)
  --key      an API key with the admin scope (npm run key -- --apps "*" --scopes admin); also HUB_ADMIN_KEY
  --stage    the stage deployed (default dev): names the alarms and the tick's function
  --region   the stack's region (default: from the URL, else AWS_REGION, else ap-east-1)
  --no-aws   skip the alarms and the tick's invocations (they need AWS credentials)`;

const values = commandOptions('smoke', USAGE, { url: { type: 'string' }, key: { type: 'string' }, stage: { type: 'string' }, region: { type: 'string' }, 'no-aws': { type: 'boolean' } });
const url = values.url ?? process.env.HUB_URL;
const key = values.key ?? process.env.HUB_ADMIN_KEY;
if (!url || !key || !URL.canParse(url)) {
  console.error(`npm run smoke: --url (an http(s) URL) and --key are required\n${USAGE}`);
  process.exit(2);
}
const host = new URL(url).hostname;
const local = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(host);
const region = values.region ?? /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'ap-east-1';
const stage = values.stage ?? 'dev';

console.log(`wechat-token-hub smoke test: ${url}${local ? '' : ` (stage ${stage}, ${region})`}`);
const results: Result[] = await httpChecks(url, key);
if (local) results.push({ status: 'skip', what: 'the alarms and the tick (CloudWatch)', detail: 'a local server (npm start) has no stack: nothing to check in AWS' });
else if (values['no-aws']) results.push({ status: 'skip', what: 'the alarms and the tick (CloudWatch)', detail: '--no-aws' });
else {
  const client = new CloudWatchClient({ region });
  try {
    results.push(...(await awsChecks({ stage, client })));
  } finally {
    client.destroy();
  }
}

const mark = { ok: 'ok  ', fail: 'FAIL', skip: 'skip' } as const;
for (const r of results) console.log(`${mark[r.status]} ${r.what}${r.detail ? `\n       ${r.detail}` : ''}`);
const count = (s: Result['status']) => results.filter((r) => r.status === s).length;
console.log(`smoke test: ${count('ok')} passed, ${count('fail')} failed, ${count('skip')} skipped`);
process.exit(count('fail') ? 1 : 0);
