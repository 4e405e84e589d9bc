/**
 * Every DynamoDB request of a benchmark's containers, counted by kind and in the units on-demand
 * DynamoDB bills: read request units (RRU) and write request units (WRU). The table's units are
 * dynalite's own (each request made with ReturnConsumedCapacity: TOTAL, from the item sizes);
 * dynalite does not count the writes of the global secondary index, so those are counted here from
 * what each write does to an item gsi1 projects (all attributes: docs/store.md), as AWS bills them:
 * a write that sets the index key (`gsi1sk`: the credential moves in the due index) is a delete and
 * a put in the index (2 WRU), any other write of an indexed item (a credential, a principal row)
 * is one (1 WRU), a write of an item the index does not hold (a ledger row, a claim, a meta
 * document) none. A refused conditional write is billed 1 WRU and writes no index.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface Meter {
  requests: number;
  reads: number;
  writes: number;
  /** Read request units (table and index queries, as dynalite sized them). */
  rru: number;
  /** Write request units of the table (dynalite's) and of gsi1 (the rule above). */
  wru: number;
  gsiWru: number;
  /** By command and the kind of item (`GetItem PRINCIPAL`, `UpdateItem CRED`, `Query gsi1`…). */
  byCommand: Record<string, number>;
}

export const emptyMeter = (): Meter => ({ requests: 0, reads: 0, writes: 0, rru: 0, wru: 0, gsiWru: 0, byCommand: {} });

/** b − a, field by field. */
export function meterDelta(b: Meter, a: Meter): Meter {
  const byCommand: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.byCommand)) if (v - (a.byCommand[k] ?? 0)) byCommand[k] = v - (a.byCommand[k] ?? 0);
  return { requests: b.requests - a.requests, reads: b.reads - a.reads, writes: b.writes - a.writes, rru: b.rru - a.rru, wru: b.wru - a.wru, gsiWru: b.gsiWru - a.gsiWru, byCommand };
}

export const snapshot = (m: Meter): Meter => ({ ...m, byCommand: { ...m.byCommand } });

const READS = new Set(['GetItemCommand', 'QueryCommand', 'BatchGetItemCommand', 'ScanCommand']);
const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

interface WriteInput {
  Key?: { pk?: { S?: string } };
  Item?: Record<string, unknown> & { pk?: { S?: string } };
  UpdateExpression?: string;
}

/** gsi1's write units for one applied write (see the module's comment). */
function gsiUnits(command: string, input: WriteInput): number {
  const pk = input.Key?.pk?.S ?? input.Item?.pk?.S ?? '';
  const indexed = pk.startsWith('CRED#') || pk.startsWith('PRINCIPAL#');
  if (!indexed) return 0;
  if (command === 'UpdateItemCommand' && /gsi1sk = /.test(input.UpdateExpression ?? '')) return 2;
  return 1;
}

/** A DynamoDB client whose every request is added to `meter` (and to each of `also`). */
export function meteredClient(endpoint: string, meter: Meter, also: Meter[] = [], options: { maxAttempts?: number } = {}): DynamoDBClient {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'b', secretAccessKey: 'b' }, ...options });
  const meters = [meter, ...also];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown';
      const input = args.input as WriteInput & { ReturnConsumedCapacity?: string };
      if (READS.has(command) || WRITES.has(command)) input.ReturnConsumedCapacity = 'TOTAL';
      const add = (f: (m: Meter) => void) => meters.forEach(f);
      const item = (input.Key?.pk?.S ?? input.Item?.pk?.S)?.split('#')[0] ?? ((input as { IndexName?: string }).IndexName ?? 'table');
      const label = `${command.replace(/Command$/, '')} ${item}`;
      add((m) => {
        m.requests++;
        m.byCommand[label] = (m.byCommand[label] ?? 0) + 1;
        if (READS.has(command)) m.reads++;
        if (WRITES.has(command)) m.writes++;
      });
      try {
        const result = await next(args);
        const units = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity?.CapacityUnits ?? 0;
        if (READS.has(command)) add((m) => (m.rru += units));
        if (WRITES.has(command)) {
          const gsi = gsiUnits(command, input);
          add((m) => {
            m.wru += units;
            m.gsiWru += gsi;
          });
        }
        return result;
      } catch (error) {
        // A refused condition is billed one write unit, and writes no index.
        if (WRITES.has(command) && (error as { name?: string }).name === 'ConditionalCheckFailedException') add((m) => (m.wru += 1));
        throw error;
      }
    },
    { step: 'initialize', name: 'benchMeter' },
  );
  return client;
}
