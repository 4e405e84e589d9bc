import type { SimPlatforms } from './platform.js';
import type { SimState } from './state.js';
import type { SimulatedAuthorization, SimulatedPlatform, SimulatedPush } from './types.js';

/** The simulator's third-party platform methods (lib/simulator/platform.ts): the component appid names the platform everywhere. */
export class SimulatedPlatforms {
  constructor(
    protected readonly sim: SimState,
    protected readonly platforms: SimPlatforms,
  ) {}

  addPlatform(platform: SimulatedPlatform): void {
    this.platforms.add(platform);
  }
  /** Where the platform's events (tickets, authorizations) are POSTed, encrypted. */
  setEventUrl(platformAppid: string, url: string | undefined): void {
    this.platforms.record(platformAppid).eventUrl = url;
  }
  /** Push a new component_verify_ticket now (the previous one stays accepted); resolves once the URL answered. */
  pushTicket(platformAppid: string): Promise<SimulatedPush & { ticket: string }> {
    return this.platforms.pushTicket(platformAppid);
  }
  /** Every push to the platform's event URL, oldest first: its InfoType and the answer (status 0: none). */
  pushes(platformAppid: string): readonly SimulatedPush[] {
    return this.platforms.record(platformAppid).pushes;
  }
  /** Wait until every push under way (api_start_push_ticket's, the timer's) has been answered. */
  pushesSettled(): Promise<void> {
    return this.platforms.settled();
  }
  /** Push a ticket to every platform every `intervalMs` of real time (default 10 minutes, as WeChat), for `npm start`. */
  startTicketTimer(intervalMs?: number): void {
    this.platforms.startTicketTimer(intervalMs);
  }
  stopTicketTimer(): void {
    this.platforms.stopTicketTimer();
  }
  /** An account authorizes the platform (again: updateauthorized, a new refresh token): see SimPlatforms.authorize. */
  authorize(platformAppid: string, authorizerAppid: string, options?: SimulatedAuthorization) {
    return this.platforms.authorize(platformAppid, authorizerAppid, options);
  }
  /**
   * WeChat refuses the account's refresh token (61023) while api_get_authorizer_list still lists that
   * same one: the platform can only have the account authorize again (which ends it).
   */
  breakRefreshToken(platformAppid: string, authorizerAppid: string): void {
    const a = this.platforms.record(platformAppid).authorizers.get(authorizerAppid);
    if (!a) throw new Error(`${authorizerAppid} has not authorized platform ${platformAppid}`);
    a.broken = true;
  }
  /** The account withdraws its authorization: pushes `unauthorized`; its refresh token and access tokens die. */
  unauthorize(platformAppid: string, authorizerAppid: string): Promise<SimulatedPush> {
    return this.platforms.unauthorize(platformAppid, authorizerAppid);
  }
  /** The latest pushed ticket, the current component token (if not expired), each authorizer's refresh token. */
  platformState(platformAppid: string): { ticket?: string; componentToken?: string; refreshTokens: Record<string, string> } {
    const p = this.platforms.record(platformAppid);
    const refreshTokens = Object.fromEntries([...p.authorizers].map(([id, a]) => [id, a.refreshToken]));
    return { ticket: p.tickets[0]?.value, componentToken: p.tokens.live(this.sim.now()), refreshTokens };
  }
  /**
   * Whether api_authorizer_token rotates the refresh token from now on (SimulatedPlatform.rotateRefreshTokens:
   * a new one every answer, the one sent then 61023; WeChat's behaviour is UNCONFIRMED, docs/wechat.md §10).
   */
  setRotateRefreshTokens(platformAppid: string, rotate: boolean): void {
    this.platforms.record(platformAppid).platform.rotateRefreshTokens = rotate;
  }
  /** Every verify ticket, pre-auth code, authorization code and refresh token issued (tokens: issuedTokens()). */
  issuedPlatformValues(): readonly string[] {
    return this.platforms.issued;
  }
}
