import type { HubConfig } from '../config.js';

/** What `npm start` prints after it started: how to call it. */

/**
 * With HUB_AUTH=iam, API Gateway's IAM authorizer checks each request's SigV4 signature and passes
 * on who signed it. Nothing emulates it locally, so the local server can authenticate no one: say
 * so, rather than print a key and curl lines that could not work.
 */
export function iamLines(config: HubConfig): string[] {
  return [
    `HUB_AUTH=iam: requests must be SigV4-signed by a principal in HUB_IAM_PRINCIPALS (${config.iamPrincipals.map((p) => p.name).join(', ')}).`,
    'The IAM authorizer is API Gateway\'s and is not emulated locally, so this server cannot authenticate any request: every route that needs a caller answers 401 (only GET /v1/health answers), and the WeChat-compatible paths, which take API keys, refuse every caller.',
    'The tick still keeps the apps\' tokens fresh in the local store. To try the API locally, start without HUB_AUTH=iam (API keys).',
  ];
}

/**
 * The demo key, if one was made, printed once; then a curl line for each kind of route, which read
 * the key from $HUB_KEY (so the key is on the screen, and in the terminal's scrollback, once). A
 * platform's lines name `authorizer` (the demo's account) or a placeholder for one of its accounts.
 */
export function tryLines(config: HubConfig, url: string, demoKey: string | undefined, authorizer = '<authorizer appid>'): string[] {
  const lines: string[] = [];
  // A website app has no token; a platform's tokens are its authorizers' (below).
  const app = config.apps.find((a) => a.type !== 'website' && a.type !== 'platform')?.name;
  const jssdk = config.apps.find((a) => a.type === 'official_account' || a.type === 'wecom')?.name;
  const platform = config.apps.find((a) => a.type === 'platform')?.name;
  if (demoKey) {
    lines.push(`Demo API key (read, refresh, proxy, login, admin on every app; shown once): ${demoKey}`);
    lines.push('Try (first: export HUB_KEY=<the demo key above>):');
  } else {
    lines.push('Try (first: export HUB_KEY=<one of your keys>):');
  }
  const auth = '-H "Authorization: Bearer $HUB_KEY"';
  if (app) lines.push(`  curl -s ${auth} ${url}/v1/apps/${app}/access-token`);
  if (jssdk) {
    lines.push(`  curl -s ${auth} ${url}/v1/apps/${jssdk}/tickets/jsapi`);
    lines.push(`  curl -s ${auth} -H 'content-type: application/json' -d '{"url":"https://example.com/page"}' ${url}/v1/apps/${jssdk}/jsapi-signature`);
  }
  if (app) lines.push(`  curl -s ${auth} ${url}/v1/apps/${app}/wechat/cgi-bin/getcallbackip`);
  if (platform) {
    lines.push(`The accounts that authorized "${platform}" (admin on ${platform} and ${platform}/*), and one account's token (read on ${platform}/* or ${platform}/<appid>):`);
    lines.push(`  curl -s ${auth} ${url}/v1/platforms/${platform}/authorizers`);
    lines.push(`  curl -s ${auth} ${url}/v1/platforms/${platform}/authorizers/${authorizer}/access-token`);
  }
  const compat = config.apps.find((a) => a.compat && (a.type === 'official_account' || a.type === 'mini_program'));
  if (compat && (compat.type === 'official_account' || compat.type === 'mini_program')) {
    lines.push(`An unmodified SDK: API base ${url}, appid ${compat.appid}, and a hub key as its secret:`);
    lines.push(`  curl -s "${url}/cgi-bin/token?grant_type=client_credential&appid=${compat.appid}&secret=$HUB_KEY"`);
  }
  lines.push(`The hub's state: npm run status -- --url ${url} --key "$HUB_KEY"${demoKey ? '' : ' (a key with the admin scope)'}`);
  return lines;
}
