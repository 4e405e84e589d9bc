import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { N, S, scheduleNames, scheduleSets, stateValue, type Item } from './dynamo-codec.js';
import type { FailureRecord, TokenWrite } from './store.js';

/**
 * The update expressions of the two biggest writes to a credential item (docs/store.md, "What each
 * operation does"), for lib/store/dynamodb.ts, which conditions and sends them: the fenced write of
 * a value and the failure record. A `schedule` moves the due index in the same update.
 */
export interface Update {
  UpdateExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues: Record<string, AttributeValue>;
}

/** The fenced write's update; its condition (`leaseOwner = :me AND #version = :seen`) uses `:me`, `:seen`, `#version`. */
export function tokenWriteUpdate(w: TokenWrite): Update {
  const values: Item = {
    ':me': S(w.owner),
    ':seen': N(w.seenVersion),
    ':one': N(1),
    ':zero': N(0),
    ':value': S(w.value),
    ':expiresAt': N(w.expiresAt),
    ':obtainedAt': N(w.obtainedAt),
  };
  const sets = [
    '#value = :value', 'expiresAt = :expiresAt', 'obtainedAt = :obtainedAt', '#version = #version + :one', 'failures = :zero',
    'writtenBy = :me',
  ];
  const removes = ['leaseOwner', 'leaseUntil', 'lastError', 'blockedUntil', 'validatedAt', 'backoffUntil', 'backoffSource'];
  if (w.previousValue !== undefined && w.previousValidUntil !== undefined) {
    sets.push('previousValue = :prev', 'previousValidUntil = :prevUntil');
    values[':prev'] = S(w.previousValue);
    values[':prevUntil'] = N(w.previousValidUntil);
  } else {
    removes.push('previousValue', 'previousValidUntil');
  }
  if (w.replacedValue !== undefined && w.replacedUntil !== undefined) {
    sets.push('replacedValue = :replaced', 'replacedUntil = :replacedUntil');
    values[':replaced'] = S(w.replacedValue);
    values[':replacedUntil'] = N(w.replacedUntil);
  } else {
    removes.push('replacedValue', 'replacedUntil');
  }
  if (w.forcedAt !== undefined) {
    sets.push('lastForcedAt = :forcedAt');
    values[':forcedAt'] = N(w.forcedAt);
  }
  if (w.secretFingerprint !== undefined) {
    sets.push('secretFingerprint = :sfp');
    values[':sfp'] = S(w.secretFingerprint);
  }
  if (w.refreshedBy !== undefined) {
    sets.push('refreshedBy = :by');
    values[':by'] = S(w.refreshedBy);
  }
  if (w.state !== undefined) {
    sets.push('#state = :state');
    values[':state'] = stateValue(w.state);
  }
  if (w.schedule !== undefined) sets.push(...scheduleSets(w.schedule, values));
  return {
    UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
    ExpressionAttributeNames: {
      '#value': 'value',
      '#version': 'version',
      ...(w.state === undefined ? {} : { '#state': 'state' }),
      ...(w.schedule === undefined ? {} : scheduleNames),
    },
    ExpressionAttributeValues: values,
  };
}

/** The failure record's update; its condition (`leaseOwner = :me`) uses `:me`. */
export function failureUpdate(f: FailureRecord): Update {
  const values: Item = {
    ':me': S(f.owner),
    ':one': N(1),
    ':zero': N(0),
    ':err': { M: { code: S(f.error.code), message: S(f.error.message || '-'), at: N(f.error.at) } },
  };
  let update = 'SET failures = if_not_exists(failures, :zero) + :one, lastError = :err, failedBy = :me';
  const removes = ['leaseOwner', 'leaseUntil'];
  if (f.blockedUntil !== undefined) {
    update += ', blockedUntil = :blocked';
    values[':blocked'] = N(f.blockedUntil);
  }
  if (f.backoffUntil !== undefined) {
    update += ', backoffUntil = :backoff';
    values[':backoff'] = N(f.backoffUntil);
    if (f.backoffSource !== undefined) {
      update += ', backoffSource = :bsrc';
      values[':bsrc'] = S(f.backoffSource);
    } else {
      removes.push('backoffSource');
    }
  } else {
    removes.push('backoffUntil', 'backoffSource');
  }
  if (f.schedule !== undefined) update += `, ${scheduleSets(f.schedule, values).join(', ')}`;
  return {
    UpdateExpression: `${update} REMOVE ${removes.join(', ')}`,
    ...(f.schedule === undefined ? {} : { ExpressionAttributeNames: scheduleNames }),
    ExpressionAttributeValues: values,
  };
}
