import { describe, expect, it } from 'vitest';
import { failureDecision } from '../../lib/failure.js';
import { defaultSettings } from '../../lib/settings.js';
import { ConfigurationError, UpstreamError } from '../../lib/wechat/errors.js';

/** A kind's own failure policy (CredentialKind.failurePolicy) over the platform's classification. */
describe('a kind\'s failure policy', () => {
  const at = 1_795_399_200_000;

  it('without one, the platform\'s classification stands: an unknown errcode is passing, a configuration error waits long', () => {
    const other = failureDecision(new UpstreamError(61004, 'access clientip is not registered'), undefined, at, defaultSettings, undefined);
    expect(other).toMatchObject({ configuration: false, backoffUntil: at + defaultSettings.failureBackoffMs });
    expect(other.blockedUntil).toBeUndefined();
    expect(failureDecision(new ConfigurationError(40164, 'ip'), undefined, at, defaultSettings, undefined)).toMatchObject({ configuration: true, backoffUntil: at + defaultSettings.configErrorBackoffMs });
  });

  it('says an errcode is configuration (the long backoff) or blocks for a time; a field it leaves out is the platform\'s', () => {
    const ip = failureDecision(new UpstreamError(61004, 'access clientip is not registered'), undefined, at, defaultSettings, undefined, { configuration: true });
    expect(ip).toMatchObject({ configuration: true, backoffUntil: at + defaultSettings.configErrorBackoffMs });
    const block = failureDecision(new UpstreamError(61023, 'refresh_token is invalid'), undefined, at, defaultSettings, undefined, { blockedForMs: 3_600_000 });
    expect(block).toMatchObject({ configuration: false, blockedUntil: at + 3_600_000 });
    // 0: no block, whatever the platform would say.
    expect(failureDecision(new ConfigurationError(40164, 'ip'), undefined, at, defaultSettings, undefined, { blockedForMs: 0 }).blockedUntil).toBeUndefined();
  });
});
