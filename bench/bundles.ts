/**
 * The deploy bundles against the floor: a minified bundle of only the AWS SDK clients a cold
 * get-token must call (DynamoDB GetItem, SSM GetParameter), built with the same esbuild settings
 * as serverless.yml. For every function: zip size, code size and module load time in a fresh Node
 * process, measured pair by pair (floor, function, floor, function, …) in one run. Needs
 * `npx sls package` first (bench/run.ts runs it). Returns the BENCHMARKS.md section.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const FUNCTIONS: [string, string][] = [
  ['getToken', 'get-token'],
  ['forceRefresh', 'force-refresh'],
  ['refreshTick', 'refresh-tick'],
  ['tickets', 'tickets'],
  ['compat', 'compat'],
  ['proxy', 'proxy'],
  ['status', 'status'],
  ['login', 'login'],
];
const BANNER = "import { createRequire as __hubCreateRequire } from 'node:module'; const require = __hubCreateRequire(import.meta.url);";

/** Milliseconds to import a module in a fresh Node process (the process's own start not counted). */
function loadMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, AWS_REGION: 'ap-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  return Number(String(out).trim());
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function bundlesSection(runs: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-bundles-'));
  const entry = join(process.cwd(), 'bench', '.floor-entry.ts');
  writeFileSync(
    entry,
    `import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
export const handler = async () => [
  await new DynamoDBClient({}).send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' } }, ConsistentRead: true })),
  await new SSMClient({}).send(new GetParameterCommand({ Name: '/x', WithDecryption: true })),
];
`,
  );
  const floor = join(dir, 'floor.mjs');
  try {
    await build({ entryPoints: [entry], outfile: floor, bundle: true, minify: true, keepNames: true, treeShaking: true, platform: 'node', format: 'esm', target: 'node22', mainFields: ['module', 'main'], banner: { js: BANNER }, logLevel: 'error' });
  } finally {
    execFileSync('rm', ['-f', entry]);
  }
  // The same two clients through their CommonJS builds (esbuild's default resolution): the larger floor.
  const cjsFloor = join(dir, 'floor-cjs.mjs');
  writeFileSync(entry, `import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
export const handler = async () => [await new DynamoDBClient({}).send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' } } })), await new SSMClient({}).send(new GetParameterCommand({ Name: '/x' }))];
`);
  try {
    await build({ entryPoints: [entry], outfile: cjsFloor, bundle: true, minify: true, keepNames: true, platform: 'node', format: 'esm', target: 'node22', banner: { js: BANNER }, logLevel: 'error' });
  } finally {
    execFileSync('rm', ['-f', entry]);
  }
  const cjsFloorCode = statSync(cjsFloor).size;
  execFileSync('zip', ['-q', '-j', join(dir, 'floor.zip'), floor]);
  const floorCode = statSync(floor).size;
  const floorZip = statSync(join(dir, 'floor.zip')).size;

  const rows: string[] = [];
  const goals: string[] = [];
  for (const [fn, file] of FUNCTIONS) {
    execFileSync('unzip', ['-q', '-o', `.serverless/${fn}.zip`, '-d', join(dir, fn)]);
    const code = join(dir, fn, 'functions', `${file}.mjs`);
    const zip = statSync(`.serverless/${fn}.zip`).size;
    const size = statSync(code).size;
    const floorTimes: number[] = [];
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      floorTimes.push(loadMs(floor));
      times.push(loadMs(code));
    }
    const ratioCode = size / floorCode;
    const ratioLoad = median(times) / median(floorTimes);
    rows.push(`| ${fn} | ${(zip / 1024).toFixed(0)} KB | ${(size / 1024).toFixed(0)} KB | ${ratioCode.toFixed(2)} | ${median(times).toFixed(1)} ms | ${median(floorTimes).toFixed(1)} ms | ${ratioLoad.toFixed(2)} |`);
    if (fn === 'getToken') {
      goals.push(`- zip under 400 KB: ${(zip / 1024).toFixed(0)} KB, ${zip < 400 * 1024 ? 'met' : 'missed'}`);
      goals.push(`- code under 1.2× the floor's: ${ratioCode.toFixed(2)}×, ${ratioCode < 1.2 ? 'met' : `missed by ${((ratioCode / 1.2 - 1) * 100).toFixed(0)} %`} (against the clients' CommonJS builds, ${(cjsFloorCode / 1024).toFixed(0)} KB, the floor as first measured: ${(size / cjsFloorCode).toFixed(2)}×)`);
      goals.push(`- module load under 1.1× the floor's: ${ratioLoad.toFixed(2)}×, ${ratioLoad < 1.1 ? 'met' : `missed by ${((ratioLoad / 1.1 - 1) * 100).toFixed(0)} %`}`);
    }
  }
  return `## Bundles against the SDK floor

\`npm run bench\` (bench/bundles.ts) after \`npx sls package\`. The floor is a minified bundle of only
the AWS SDK clients a cold get-token must call (DynamoDB \`GetItem\`, SSM \`GetParameter\`), built with
serverless.yml's esbuild settings: ${(floorCode / 1024).toFixed(0)} KB of code, ${(floorZip / 1024).toFixed(0)} KB zipped. Load time: median of
${runs} fresh \`node\` processes importing the module, floor and function measured alternately.

| function | zip | code | code ÷ floor | load | floor load | load ÷ floor |
|---|---|---|---|---|---|---|
${rows.join('\n')}

get-token's goals:
${goals.join('\n')}

What the functions carry beyond the floor (get-token, from esbuild's metafile), and so what
dominates the misses: the hub's own code (about 47 KB: configuration, the protocol, the store, the
WeChat client, the edge), Powertools (logger, metrics, parameters: about 41 KB) and zod/mini with
its English messages (about 32 KB); the load time follows the code (evaluating those modules and
building the schemas). The floor here takes the SDK's ES module builds, which are smaller than the
CommonJS ones, so these fixed costs weigh more in the ratio; reaching 1.2× would mean leaving out
Powertools or zod, which the project chose on purpose.
Before this round each function was 3 MB of unminified code with a 5.5 MB source map in its 2 MB
zip; undici (526 KB) gave way to Node's built-in fetch and zod's chained API (444 KB) to zod/mini.
`;
}
