import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForcedRefreshBudgetError, UpstreamLimitError } from '../../lib/errors.js';
import { Ledger, type QuotaCharge } from '../../lib/quota/ledger.js';
import { quotaHour } from '../../lib/quota/periods.js';
import { DynamoCredentialStore, ensureTable } from '../../lib/store/dynamodb.js';
import { closeSharedDynalite, sharedDynalite } from '../support/world.js';

const HOUR = 3_600_000;
let store: DynamoCredentialStore;
let client: DynamoDBClient;

beforeAll(async () => {
  const engine = await sharedDynalite();
  client = new DynamoDBClient({ endpoint: engine.endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const table = `ledger-${randomBytes(4).toString('hex')}`;
  await ensureTable(client, table);
  store = new DynamoCredentialStore({ client, tableName: table });
});
afterAll(async () => {
  client.destroy();
  await closeSharedDynalite();
});

/** WeCom's shape (per app and per corp, hourly) with small limits. */
const charges = (app: string, forced = false): QuotaCharge[] => [
  { scope: app, api: 'wecom_ticket_jsapi', period: 'day', forcedBudget: forced ? 4 : undefined },
  { scope: app, api: 'wecom_ticket', period: 'hour', limit: 3, limitName: 'the app limit' },
  { scope: 'corp:c1', api: 'wecom_ticket', period: 'hour', limit: 5, limitName: 'the corp limit' },
];

describe('the quota ledger', () => {
  it('holds per-app and per-corp hourly limits, and takes back counts of a refused call', async () => {
    const ledger = new Ledger(store);
    const t0 = Date.UTC(2026, 10, 23, 3, 10);
    for (let i = 0; i < 3; i++) await ledger.charge(charges('a1'), t0);
    await expect(ledger.charge(charges('a1'), t0)).rejects.toThrow(/the app limit/);
    await ledger.charge(charges('a2'), t0);
    await ledger.charge(charges('a2'), t0);
    // The corp has 5 now: a2's third call is refused by the corp row, after its app row counted it.
    const refused = await ledger.charge(charges('a2'), t0).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UpstreamLimitError);
    expect((refused as Error).message).toContain('the corp limit');
    expect((refused as UpstreamLimitError).retryAfterSeconds).toBe(50 * 60);
    // ...and that count was taken back: the rows say what was really called.
    expect((await store.readQuota('a2', 'wecom_ticket', quotaHour(t0))).count).toBe(2);
    expect((await store.readQuota('corp:c1', 'wecom_ticket', quotaHour(t0))).count).toBe(5);
    expect((await store.readQuota('a2', 'wecom_ticket_jsapi', '2026-11-23')).count).toBe(2);
  });

  it('counts an hourly limit over any 60 minutes: the previous clock hour counts too', async () => {
    const ledger = new Ledger(store);
    const t0 = Date.UTC(2026, 10, 24, 3, 59);
    for (let i = 0; i < 3; i++) await ledger.charge(charges('b1').slice(0, 2), t0);
    await expect(ledger.charge(charges('b1').slice(0, 2), t0 + 2 * 60_000)).rejects.toBeInstanceOf(UpstreamLimitError);
    await ledger.charge(charges('b1').slice(0, 2), t0 + HOUR + 2 * 60_000);
  });

  it('a forced call past the forced budget is refused until the next quota day', async () => {
    const ledger = new Ledger(store);
    const t0 = Date.UTC(2026, 10, 25, 3, 0);
    const daily = (forced: boolean): QuotaCharge[] => [charges('f1', forced)[0]!];
    for (let i = 0; i < 4; i++) await ledger.charge(daily(true), t0);
    const refused = await ledger.charge(daily(true), t0).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ForcedRefreshBudgetError);
    expect((refused as ForcedRefreshBudgetError).retryAfterSeconds).toBe(13 * 3600); // China midnight is 16:00 UTC
    await ledger.charge(daily(false), t0); // the scheduled refresh is never refused by the forced budget
    expect(await store.readQuota('f1', 'wecom_ticket_jsapi', '2026-11-25')).toEqual({ count: 5, forced: 4 });
  });
});
