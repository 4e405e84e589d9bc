/**
 * What it costs to run, per month, for 1, 10 and 100 apps at default settings, from the request
 * counts the other benchmarks measure (not from AWS's bill: a model, with every assumption stated).
 * Returns the BENCHMARKS.md section.
 */

/** us-east-1 list prices (arm64 Lambda, HTTP API, DynamoDB on-demand, KMS), as AWS listed them in 2025: check before relying. */
export const PRICES = {
  date: '2025 list prices, us-east-1 (ap-east-1 is about 10-30 % higher)',
  lambdaPerMillion: 0.2,
  lambdaPerGbSecondArm: 0.0000133334,
  httpApiPerMillion: 1.0,
  dynamoReadPerMillion: 0.125,
  dynamoWritePerMillion: 0.625,
  kmsPerTenThousand: 0.03,
};

export interface Measured {
  /** DynamoDB requests of one tick when nothing is due (one query per due-index shard, the secrets' meta read): the same for any number of apps. */
  tickRequests: number;
  /** Self-heal writes per app per tick (a probe moves the token in the due index; at SELF_HEAL_INTERVAL=300 every tick probes). */
  probeWritesPerAppPerTick: number;
  refreshReads: number;
  refreshWrites: number;
  /** Token fetches per app per day (the simulated day). */
  refreshesPerDay: number;
}

const MONTH_S = 30 * 86_400;

export function costSection(m: Measured): string {
  const readRate = 1; // requests a second per app reaching the hub (each service caches with the client library)
  const containers = 2; // warm containers per function serving reads
  const memoryGb = 0.25;
  const rows: string[] = [];
  for (const apps of [1, 10, 100]) {
    const requests = apps * readRate * MONTH_S;
    const ticks = MONTH_S / 300;
    const invocations = requests + ticks;
    const gbSeconds = requests * 0.01 * memoryGb + ticks * (0.05 + apps * 0.01) * memoryGb; // ~10 ms a read; the tick ~10 ms an app
    const lambda = (invocations / 1e6) * PRICES.lambdaPerMillion + gbSeconds * PRICES.lambdaPerGbSecondArm;
    const api = (requests / 1e6) * PRICES.httpApiPerMillion;
    // Reads: one consistent GetItem per container and app every CACHE_TTL (30 s); the tick's queries;
    // refreshes. Writes: the lease, the ledger and the fenced write of each refresh; the probes' index moves.
    const ddbReads = containers * apps * (MONTH_S / 30) + ticks * m.tickRequests + 30 * apps * m.refreshesPerDay * m.refreshReads;
    const ddbWrites = 30 * apps * m.refreshesPerDay * m.refreshWrites + ticks * apps * m.probeWritesPerAppPerTick;
    const dynamo = (ddbReads / 1e6) * PRICES.dynamoReadPerMillion + (ddbWrites / 1e6) * PRICES.dynamoWritePerMillion;
    // SSM standard parameters: no API charge; SecureStrings decrypt through KMS once per SECRET_CACHE_TTL (60 s) per container and value.
    const kmsCalls = (containers * 3 + 1) * (apps + 1) * (MONTH_S / 60);
    const kms = (kmsCalls / 1e4) * PRICES.kmsPerTenThousand;
    const total = lambda + api + dynamo + kms;
    rows.push(`| ${apps} | ${(requests / 1e6).toFixed(1)} M | $${lambda.toFixed(2)} | $${api.toFixed(2)} | $${dynamo.toFixed(2)} | $${kms.toFixed(2)} | **$${total.toFixed(2)}** |`);
  }
  return `## What it costs to run

A model from the measured counts (\`npm run bench\`, bench/cost.ts), per month of 30 days, default settings,
${readRate} request a second per app reaching the hub (services cache with the client library), ${containers} warm
containers, 256 MB arm64 functions billed ~10 ms a read. Prices: ${PRICES.date}: Lambda $${PRICES.lambdaPerMillion}/M
requests and $${PRICES.lambdaPerGbSecondArm}/GB-s, HTTP API $${PRICES.httpApiPerMillion}/M, DynamoDB on-demand $${PRICES.dynamoReadPerMillion}/M reads and
$${PRICES.dynamoWritePerMillion}/M writes, KMS $${PRICES.kmsPerTenThousand}/10k (each SecureString read counted as a charged KMS request, the
worst case: a container re-reads each AppSecret and the key list every SECRET_CACHE_TTL, 60 s; SSM
standard parameters themselves cost nothing; a longer SECRET_CACHE_TTL divides this line).
Measured inputs: ${m.tickRequests} DynamoDB requests per tick with nothing due (whatever the number of apps), ${m.probeWritesPerAppPerTick}
self-heal write per app per tick (SELF_HEAL_INTERVAL=300), ${m.refreshReads} reads and ${m.refreshWrites} writes per refresh, ${m.refreshesPerDay}
refreshes per app a day. Not included: CloudWatch logs and metrics,
data transfer, the optional NAT gateway (README: about $37 a month in us-east-1).

| apps | requests / month | Lambda | API Gateway | DynamoDB | KMS | total |
|---|---|---|---|---|---|---|
${rows.join('\n')}

The request rate dominates: API Gateway and Lambda scale with reads, while the hub's own work (the tick,
15 refreshes a day per app) costs cents.
`;
}
