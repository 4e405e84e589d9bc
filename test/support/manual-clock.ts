import type { Clock } from '../../lib/clock.js';

/**
 * A clock that moves only when the test says so. `sleep` yields to the event loop (so other
 * callers run) without moving time, unless `advanceOnSleep` is set.
 */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = Date.UTC(2026, 10, 23, 2, 0, 0), readonly advanceOnSleep = false) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
  set(epochMs: number): void {
    this.#now = epochMs;
  }
  sleep(ms: number): Promise<void> {
    if (this.advanceOnSleep) this.#now += ms;
    return new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export const MINUTE = 60_000;
