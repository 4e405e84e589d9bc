import type * as z from 'zod/mini';
import type { HubApp } from '../apps.js';

/**
 * The attributes a kind needs of its principal, checked by the kind's own schema (no downcast to a
 * principal type): a principal without them is a configuration the kind cannot serve, said in the
 * error. Checked once per principal object.
 */
export function attributes<T extends z.ZodMiniType>(schema: T, kindId: string): (app: HubApp) => z.output<T> {
  const seen = new WeakMap<HubApp, z.output<T>>();
  return (app) => {
    let attrs = seen.get(app);
    if (attrs === undefined) {
      const parsed = schema.safeParse(app);
      if (!parsed.success) throw new Error(`${app.name} lacks what a ${kindId} is fetched with (${parsed.error.issues.map((i) => i.path.join('.')).join(', ')})`);
      attrs = parsed.data as z.output<T>;
      seen.set(app, attrs);
    }
    return attrs;
  };
}
