/** Every time decision in the hub reads this clock, so tests set time instead of sleeping. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Wait before trying again (backoff, polling). Tests substitute an immediate pause. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
