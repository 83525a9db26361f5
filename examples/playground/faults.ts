/**
 * The playground's fault injection, built only from the SDK's public seams: a `Clock`
 * whose offset a button changes, and a `Transport` that wraps the real one to add
 * latency, drop the network, or change one byte of the next call's response.
 */
import { RpcError, type Clock, type Transport, type WireRequest } from '../../src/index.js';

export interface Faults {
  /** Added to Date.now() by the playground's clock (a device with a wrong clock). */
  skewMs: number;
  /** While true every send fails with RpcError NETWORK. */
  networkDown: boolean;
  /** When true, the next successful (2xx) call response gets one byte changed (then it resets). */
  tamperNext: boolean;
  /** Delay before each send, to watch the stages one by one. */
  latencyMs: number;
}

export function skewedClock(faults: Faults): Clock {
  return { now: () => Date.now() + faults.skewMs };
}

/**
 * Change one character of a response body to another of the same alphabet (digit to
 * digit, letter to letter), near the middle: the body still decodes, but it is not
 * what the gateway sent. Returns the body unchanged only if it has no letter or digit.
 */
export function flipOneByte(body: string): string {
  const chars = [...body];
  const start = Math.floor(chars.length / 2);
  for (let k = 0; k < chars.length; k++) {
    const i = (start + k) % chars.length;
    const c = chars[i];
    let d: string | undefined;
    if (c >= '0' && c <= '9') d = String((Number(c) + 1) % 10);
    else if ((c >= 'a' && c <= 'e') || (c >= 'A' && c <= 'E')) d = String.fromCharCode(c.charCodeAt(0) + 1);
    else if (c === 'f' || c === 'F') d = c === 'f' ? 'a' : 'A';
    else if ((c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z')) d = c === 'z' ? 'g' : c === 'Z' ? 'G' : String.fromCharCode(c.charCodeAt(0) + 1);
    if (d !== undefined) {
      chars[i] = d;
      return chars.join('');
    }
  }
  return body;
}

/**
 * Wraps `base`. `isCall(req)` tells a call's wire request from an issuance (tampering is
 * aimed at calls); the playground marks the wire requests it saw in `stage: 'sealed'` events.
 * Keeps `base.id`, so the credential store key is the same as with the plain transport.
 */
export function faultyTransport(base: Transport & { id?: string }, faults: Faults, isCall: (req: WireRequest) => boolean, onTampered?: () => void): Transport & { id?: string } {
  return {
    ...(base.id !== undefined ? { id: base.id } : {}),
    async send(req, options) {
      if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
      if (faults.networkDown) throw new RpcError('NETWORK', 'the network is down (playground: "drop network" is on)');
      const res = await base.send(req, options);
      // Only an answer the client would use: a changed 401/409 would just be resent, and the
      // untouched answer to the resend is not what the button is meant to show.
      if (faults.tamperNext && isCall(req) && res.status >= 200 && res.status < 300) {
        faults.tamperNext = false;
        onTampered?.();
        return { ...res, body: flipOneByte(res.body) };
      }
      return res;
    },
  };
}
