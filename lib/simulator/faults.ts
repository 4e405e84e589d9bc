import type { ServerResponse } from 'node:http';
import { errorBody, type ErrmsgTable } from './errors.js';
import { sendJson } from './http.js';
import type { SimulatedEndpoint, SimulatedFault } from './types.js';

interface PendingFault {
  /** An app id (a WeChat appid or `${corpid}/${agentid}`), or any app. */
  appid: string | '*';
  endpoints: readonly SimulatedEndpoint[];
  fault: SimulatedFault;
  remaining: number;
}

/** Faults queued by failNext() or POST /__sim/fail, each for the next N matching calls. */
export class FaultQueue {
  readonly #pending: PendingFault[] = [];

  add(fault: SimulatedFault, times: number, appid: string | '*', endpoints: readonly SimulatedEndpoint[]): void {
    this.#pending.push({ appid, endpoints, fault, remaining: times });
  }

  clear(): void {
    this.#pending.length = 0;
  }

  /**
   * Take the first fault queued for this call, if any: a call of `endpoint` by the app `appid`
   * (null when the request names no known app; then only faults for any app match).
   */
  take(appid: string | null, endpoint: SimulatedEndpoint): SimulatedFault | undefined {
    const i = this.#pending.findIndex((f) => f.remaining > 0 && f.endpoints.includes(endpoint) && (f.appid === '*' || f.appid === appid));
    if (i < 0) return undefined;
    const pending = this.#pending[i]!;
    if (--pending.remaining === 0) this.#pending.splice(i, 1);
    return pending.fault;
  }
}

/** Answer with a fault: an errcode body, a connection reset, or no answer at all (the client's timeout must fire). */
export function answerFault(res: ServerResponse, fault: SimulatedFault, errmsgs: ErrmsgTable): void {
  if (fault.kind === 'hang') return;
  if (fault.kind === 'reset') {
    res.socket?.destroy();
    return;
  }
  sendJson(res, { errcode: fault.errcode, errmsg: fault.errmsg ?? errorBody(errmsgs, fault.errcode).errmsg });
}
