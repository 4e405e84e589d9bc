import { afterAll, afterEach, beforeEach } from 'vitest';
import { closeSharedDynalite, startWorld, type World } from './world.js';

/**
 * A fresh world for every test of the file (simulator, own table, virtual clock), closed after it,
 * and the shared dynalite closed after the file: the hooks every integration test file needs.
 */
export function useWorld(options?: () => Parameters<typeof startWorld>[0]): World {
  let current: World | undefined;
  beforeEach(async () => {
    current = await startWorld(options?.());
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  afterAll(closeSharedDynalite);
  return new Proxy({} as World, {
    get: (_target, property) => {
      if (!current) throw new Error('the world exists only inside a test');
      return current[property as keyof World];
    },
  });
}
