import type { HubApp, TicketType } from '../apps.js';
import { PRINCIPAL_TYPES, type PrincipalType } from '../principals/types.js';
import type { CredentialKind } from './kind.js';
import { registerKinds, type KindClients } from './registry.js';

/** The store id of a ticket type of the HTTP API. */
export const ticketKindId = (type: TicketType): string => `${type}_ticket`;

/**
 * Which kinds each principal has: its type's entry (lib/principals/types.ts) resolved against the
 * kind registry (lib/kinds/registry.ts). Neither a kind nor a type is named here.
 */
export class KindCatalog {
  readonly #registry: ReadonlyMap<string, CredentialKind>;
  readonly #types: Readonly<Record<string, PrincipalType>>;

  constructor(clients: KindClients, types: Readonly<Record<string, PrincipalType>> = PRINCIPAL_TYPES) {
    this.#registry = registerKinds(clients);
    this.#types = types;
    for (const [type, t] of Object.entries(types)) {
      for (const k of t.kinds) if (!this.#registry.has(k.kind)) throw new Error(`principal type ${type} lists ${k.kind}, which no kind module registers`);
    }
  }

  kindsOf(app: HubApp): readonly CredentialKind[] {
    const type = this.#types[app.type];
    if (!type) return [];
    const attrs = app as unknown as Record<string, unknown>;
    return type.kinds.filter((k) => k.requires === undefined || attrs[k.requires] !== undefined).map((k) => this.#registry.get(k.kind)!);
  }

  kind(app: HubApp, id: string): CredentialKind | undefined {
    return this.kindsOf(app).find((k) => k.id === id);
  }

  /** The API family of a principal's type. */
  platformOf(app: HubApp): PrincipalType['platform'] {
    return this.#types[app.type]?.platform ?? 'wechat';
  }
}
