import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { WeChatStandIn } from '../test/support/standin.js';

/**
 * The tests' independent WeChat stand-in (test/support/standin.ts) as a server, so that a person can
 * run the hub and an SDK against it: `npx tsx scripts/standin.ts [--port 0] [--appid …] [--secret …]`.
 * It prints its URL and the `npm start` line that points the hub at it.
 */

const USAGE = `usage: npx tsx scripts/standin.ts [--port <n>] [--appid <appid>] [--secret <secret>] [--token-life <s>] [--ticket-life <s>]

  --port <n>          port to listen on (default 0: any free port)
  --appid <appid>     the Official Account's appid (default wx_standin_app)
  --secret <secret>   its AppSecret (default: random, printed)
  --token-life <s>    expires_in of a new access_token (default 7200)
  --ticket-life <s>   expires_in of a new jsapi_ticket (default 7200)`;

let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      appid: { type: 'string', default: 'wx_standin_app' },
      secret: { type: 'string' },
      'token-life': { type: 'string', default: '7200' },
      'ticket-life': { type: 'string', default: '7200' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const port = Number(args.port);
const tokenLife = Number(args['token-life']);
const ticketLife = Number(args['ticket-life']);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !(tokenLife > 0) || !(ticketLife > 0)) {
  console.error(`--port must be 0-65535 and the lives positive numbers of seconds\n${USAGE}`);
  process.exit(2);
}

const appid = args.appid;
const secret = args.secret ?? randomBytes(16).toString('hex');
const standin = new WeChatStandIn({ apps: [{ appid, secret }], tokenLifeSeconds: tokenLife, ticketLifeSeconds: ticketLife });
const url = await standin.listen(port);
const apps = JSON.stringify([{ name: 'shop', appid, type: 'official_account', tokenApi: 'classic', secret: { env: 'STANDIN_SECRET' }, tickets: ['jsapi'], compat: true }]);

console.log(`WeChat stand-in running at ${url} (appid ${appid}, AppSecret ${secret})`);
console.log('Run the hub against it (in another shell):');
console.log(`  STANDIN_SECRET=${secret} WECHAT_API_BASE=${url} WECOM_API_BASE=${url} HUB_APPS='${apps}' npm start`);
console.log('Someone fetches a token outside the hub (the hub\'s token dies 5 minutes later):');
console.log(`  curl -s -X POST ${url}/__standin/outside-fetch -d '{"appid":"${appid}"}'`);
console.log('Token and ticket fetches, and refused calls, per app:');
console.log(`  curl -s ${url}/__standin/stats`);

const stop = () => {
  standin.close().then(() => {
    console.log('WeChat stand-in stopped');
    process.exit(0);
  });
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
