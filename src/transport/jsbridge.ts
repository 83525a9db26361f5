/**
 * The native transport: inside an mPaaS/Alipay-style container, requests go out through
 * `AlipayJSBridge.call('rpc', …)` and the container talks to its gateway (and signs with a
 * secret the page never sees). Any dialect's sealed body rides in `_requestBody`.
 */
import { MAX_TIMER_MS, RpcError, abortReason, badConfig, decodeTips, isTimerMs, mgsResultError, queryDataError, refuseUnknownOptions } from '../errors.js';
import type { SendOptions, Transport, WireRequest, WireResponse } from '../types.js';

/** Headers the container sets and signs itself on an `rpc` call (lower case); the page's copies are dropped. */
const CONTAINER_HEADERS: ReadonlySet<string> = new Set(['version', 'operation-type', 'appid', 'workspaceid', 'did', 'ts', 'sign', 'signtype', 'content-type']);

/** The part of the container's bridge this SDK uses. */
export interface AlipayJSBridgeLike {
  call(api: string, options: Record<string, unknown>, callback: (data: unknown) => void): void;
}

/** The options of the `rpc` JSAPI as sent. */
interface RpcJsapiOptions {
  operationType: string;
  requestData: unknown[];
  headers: Record<string, string>;
  getResponse: true;
  /** In seconds, as the container reads it. */
  timeout?: number;
  gateway?: string;
}

export interface JsBridgeTransportOptions {
  /** How long to wait for `AlipayJSBridgeReady` when the bridge is not there yet (default 5000 ms). */
  readyTimeoutMs?: number;
  /** The `gateway` option of the rpc JSAPI: a gateway URL other than the container's own. */
  gateway?: string;
}

/** Marks the SDK's own emulated bridge (see shim.ts), so a transport never calls back into it. */
export const SHIM_MARK = '__sealedRpcShim';

const READY_EVENT = 'AlipayJSBridgeReady';
const DEFAULT_READY_TIMEOUT_MS = 5000;
/** Container failure codes that are not gateway result codes (the shim answers with the same). */
export const BRIDGE_NETWORK = 10;
export const BRIDGE_TIMEOUT = 11;
export const BRIDGE_BAD_PARAMS = 2;
export const BRIDGE_NO_SUCH_API = 1;
/** The container's general JSAPI codes (below 10): 3 an unknown error, 4 the API is not permitted to this page. */
export const BRIDGE_UNKNOWN_ERROR = 3;
export const BRIDGE_NOT_PERMITTED = 4;
/** Keys a container failure object may carry; a body with other keys is data, even if it has an `error` field. */
const FAILURE_KEYS = new Set(['error', 'errorMessage', 'errorCode', 'resultStatus', 'memo', 'tips']);

function currentBridge(): AlipayJSBridgeLike | undefined {
  const b = (globalThis as { AlipayJSBridge?: AlipayJSBridgeLike }).AlipayJSBridge;
  return b && typeof b.call === 'function' ? b : undefined;
}

function notInContainer(readyTimeoutMs: number, hasDocument = true): RpcError {
  const message = hasDocument ? `AlipayJSBridge did not appear within ${readyTimeoutMs} ms` : 'no AlipayJSBridge and no document: this is not a web view';
  return new RpcError('NETWORK', message, {
    // Waiting again will not help: the page runs outside the container.
    retryable: false,
    hint:
      'This page is not running inside the app container (no AlipayJSBridge). In a plain browser use fetchTransport, or add the shim: SealedRpc.installRpcShim(client).' +
      // A container may inject the bridge late (after onload): then the wait was too short.
      (hasDocument ? ' In the app, raise readyTimeoutMs.' : ''),
    details: { readyTimeoutMs },
  });
}

/** The bridge now, or once `AlipayJSBridgeReady` fires; bounded by `readyTimeoutMs`. */
function waitForBridge(readyTimeoutMs: number, signal?: AbortSignal): Promise<AlipayJSBridgeLike> {
  const now = currentBridge();
  if (now) return Promise.resolve(now);
  const doc = (globalThis as { document?: Document }).document;
  if (!doc) return Promise.reject(notInContainer(0, false));
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      doc.removeEventListener(READY_EVENT, onReady);
      signal?.removeEventListener('abort', onAbort);
    };
    const onReady = () => {
      const b = currentBridge();
      // An event without a bridge is noise; keep waiting until the deadline.
      if (!b) return;
      done();
      resolve(b);
    };
    const onAbort = () => {
      done();
      reject(abortReason(signal)!);
    };
    const timer = setTimeout(() => {
      done();
      // The event may have been missed while the global did appear.
      const b = currentBridge();
      if (b) resolve(b);
      else reject(notInContainer(readyTimeoutMs));
    }, readyTimeoutMs);
    doc.addEventListener(READY_EVENT, onReady);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The mgs body is already the JSON array the JSAPI wants; any other body rides in `_requestBody`. */
function toRequestData(body: string | undefined): unknown[] {
  const text = body ?? '';
  if (text.trimStart().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // not JSON after all: carried as a string below
    }
  }
  return [{ _requestBody: text }];
}

/** The caller's headers; the container sets the protocol's own (Ts, Sign, AppId, …) itself. */
function passThroughHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!CONTAINER_HEADERS.has(k.toLowerCase())) out[k] = v;
  return out;
}

function numericCode(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A container failure `{error, errorMessage, tips?}` as a typed error. */
function bridgeError(code: number, errorMessage: unknown, tips?: unknown, operationType?: string): RpcError {
  const given = typeof errorMessage === 'string' && errorMessage ? errorMessage : undefined;
  // 3000 names what was sent: an issuance goes out under its path, not the operation the page called.
  const message = code === 3000 && operationType ? `${given ?? 'no such operation'} (operationType ${operationType})` : given;
  switch (code) {
    case BRIDGE_NETWORK:
      return new RpcError('NETWORK', `the container could not reach the gateway${message ? `: ${message}` : ''}`, { gatewayCode: code });
    case BRIDGE_TIMEOUT:
      return new RpcError('TIMEOUT', `the container's rpc call timed out${message ? `: ${message}` : ''}`, { gatewayCode: code });
    case BRIDGE_BAD_PARAMS:
      return new RpcError('BAD_REQUEST', `the container refused the rpc parameters${message ? `: ${message}` : ''}`, { gatewayCode: code });
    case BRIDGE_NO_SUCH_API:
      return new RpcError('BAD_CONFIG', 'the container has no rpc JSAPI', { gatewayCode: code, hint: 'This container does not offer the rpc JSAPI; use fetchTransport, or enable the RPC component in the app.' });
    case BRIDGE_NOT_PERMITTED:
      return new RpcError('BAD_CONFIG', `the container does not permit this page to call the rpc JSAPI${message ? `: ${message}` : ''}`, {
        gatewayCode: code,
        hint: "The container refused the rpc JSAPI to this page (no permission): check the app's JSAPI permission settings for this page's URL or domain.",
      });
    default:
      // Codes below 10 are the container's own general JSAPI codes (3: an unknown error), never gateway result codes.
      if (code < 10)
        return new RpcError('GATEWAY', `the container's rpc JSAPI failed (error ${code}${code === BRIDGE_UNKNOWN_ERROR ? ', an unknown error' : ''})${message ? `: ${message}` : ''}`, {
          gatewayCode: code,
          hint: 'The app container failed the rpc call before or without an answer from the gateway; see the message, and the container\'s log.',
        });
      // Tips: the gateway's user-facing text (URL-encoded, as in its header), the best hint there is.
      return mgsResultError(code, { ...(message ? { memo: message } : {}), ...(typeof tips === 'string' && tips ? { tips: decodeTips(tips) } : {}) });
  }
}

const isFailure = (data: Record<string, unknown>): boolean => {
  const failure = numericCode(data.error);
  return failure !== undefined && failure !== 0 && Object.keys(data).every((k) => FAILURE_KEYS.has(k));
};

// getResponse is always asked for: {header} alone is that answer with its resData dropped on the
// way over the native boundary (a native dictionary holds no undefined), not a body of its own.
const isEnvelope = (data: Record<string, unknown>): boolean =>
  ('resData' in data || isPlainObject(data.header)) && Object.keys(data).every((k) => k === 'resData' || k === 'header');

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function lowerCaseHeaders(header: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isPlainObject(header)) return out;
  for (const [k, v] of Object.entries(header)) {
    if (v === undefined || v === null) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.map(String).join(', ') : String(v);
  }
  return out;
}

/** JSON text of a value the container handed over; a value JSON cannot hold (BigInt, cycles) is unreadable. */
function toJsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    throw new RpcError('RESPONSE_UNREADABLE', 'the container answered with data that is not JSON');
  }
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * A callback's data as a WireResponse the profile can `open`, or a typed error. Shapes:
 * `{error, errorMessage}` (failure), `{header, resData}` (getResponse), `{resData}` (a
 * non-JSON body), a string, or a plain object (the parsed body).
 */
export function bridgeResponse(data: unknown, operationType?: string): WireResponse {
  const answer = (headers: Record<string, string>, body: string): WireResponse => {
    // The container hands data over on success only (a failure is {error}): its result code is
    // 1000 where its headers do not say. (An mgs answer over HTTP without one is no gateway's.)
    headers['result-status'] ??= '1000';
    return { status: 200, headers, body };
  };
  if (typeof data === 'string') {
    // Some containers hand the callback JSON text: a failure or an envelope in it is read as one
    // (else {"error":10} or Result-Status 2000 would be data). Any other text is the body as it came.
    const parsed = /^\s*\{/.test(data) ? parseOrUndefined(data) : undefined;
    if (isPlainObject(parsed) && (isFailure(parsed) || isEnvelope(parsed))) return bridgeResponse(parsed, operationType);
    return answer({ 'content-type': 'text/plain' }, data);
  }
  if (!isPlainObject(data)) {
    if (Array.isArray(data)) return answer({ 'content-type': 'application/json' }, toJsonText(data));
    throw new RpcError('RESPONSE_UNREADABLE', 'the container answered with no data');
  }
  if (isFailure(data)) throw bridgeError(numericCode(data.error)!, data.errorMessage, data.tips, operationType);
  if (isEnvelope(data)) {
    const headers = lowerCaseHeaders(data.header);
    const resData = data.resData;
    if (typeof resData === 'string') {
      headers['content-type'] ??= 'text/plain';
      // Declared JSON yet not JSON text: the container parsed a JSON string ("hello") and handed over
      // its value. Not a blank body (no data, e.g. 8001) nor one that starts like a document
      // (cut-off JSON, which the profile must refuse).
      if (/json/i.test(headers['content-type']) && resData.trim() !== '' && !/^\s*[[{"]/.test(resData) && !isJsonText(resData)) return answer(headers, JSON.stringify(resData));
      return answer(headers, resData);
    }
    // The container already parsed it; it goes back to text for the profile to parse.
    headers['content-type'] = 'application/json';
    return answer(headers, resData === undefined ? '' : toJsonText(resData));
  }
  return answer({ 'content-type': 'application/json' }, toJsonText(data));
}

export function jsBridgeTransport(given: JsBridgeTransportOptions | null = {}): Transport {
  // null means no options, as undefined does; anything else that is not an object is a mistake (e.g. the gateway URL alone).
  if (given !== null && typeof given !== 'object') throw badConfig('jsBridgeTransport', 'options must be an object such as { gateway }');
  const options = given ?? {};
  refuseUnknownOptions(options, ['readyTimeoutMs', 'gateway'], 'jsBridgeTransport'); // (the call timeout is createClient's timeoutMs)
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  if (!isTimerMs(readyTimeoutMs, true)) throw badConfig('readyTimeoutMs', `must be a number of milliseconds from 0 to ${MAX_TIMER_MS}`);
  // The container takes a whole URL: a path (the mgs profile's gatewayPath) reaches no gateway.
  if (options.gateway !== undefined && !(typeof options.gateway === 'string' && /^https?:\/\/[^/]/i.test(options.gateway)))
    throw badConfig('gateway', 'must be a full http(s) URL, e.g. https://mgw.example.com/mgw.htm');

  return {
    // Another gateway keeps its own stored credential. Without one (the container's own
    // gateway) the id stays unset, as before, so credentials already stored keep their key.
    ...(options.gateway !== undefined ? { id: `jsbridge:${options.gateway}` } : {}),
    bodyOnly: true,
    async send(req: WireRequest, { signal, timeoutMs }: SendOptions): Promise<WireResponse> {
      if (signal?.aborted) throw abortReason(signal)!;
      // The rpc JSAPI carries a body only: a request whose data rides in the URL would arrive empty.
      // (createClient refuses a profile that says so; this catches one that does not.)
      if (req.body === undefined && req.path.includes('?')) throw queryDataError();
      const bridge = await waitForBridge(readyTimeoutMs, signal);
      // Aborted while the wait's answer was on its way: its listener was already gone.
      if (signal?.aborted) throw abortReason(signal)!;
      if ((bridge as unknown as Record<string, unknown>)[SHIM_MARK])
        throw new RpcError('BAD_CONFIG', 'jsBridgeTransport would call the SDK shim, which calls the client again', {
          details: { option: 'transport' },
          hint: 'A client used by installRpcShim must send over the network: give it fetchTransport, not jsBridgeTransport.',
        });
      const jsapiOptions: RpcJsapiOptions = {
        operationType: req.operationType,
        requestData: toRequestData(req.body),
        headers: passThroughHeaders(req.headers),
        getResponse: true,
        // The JSAPI's timeout is whole seconds (the container's own default is 20–30 s).
        ...(timeoutMs !== undefined ? { timeout: Math.max(1, Math.ceil(timeoutMs / 1000)) } : {}),
        ...(options.gateway !== undefined ? { gateway: options.gateway } : {}),
      };
      return new Promise<WireResponse>((resolve, reject) => {
        let settled = false;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const finish = (fn: () => void) => {
          if (settled) return; // a late callback after a timeout or abort is dropped
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          fn();
        };
        const onAbort = () => finish(() => reject(abortReason(signal)!));
        signal?.addEventListener('abort', onAbort, { once: true });
        // Our own bound too: a container that never calls back must not hang the call.
        if (timeoutMs !== undefined && timeoutMs > 0)
          timer = setTimeout(() => finish(() => reject(new RpcError('TIMEOUT', `the container did not answer within ${timeoutMs} ms`))), timeoutMs);
        try {
          bridge.call('rpc', jsapiOptions as unknown as Record<string, unknown>, (data) => {
            finish(() => {
              try {
                resolve(bridgeResponse(data, req.operationType));
              } catch (e) {
                reject(e);
              }
            });
          });
        } catch (e) {
          finish(() => reject(new RpcError('NETWORK', 'AlipayJSBridge.call threw', { cause: e })));
        }
      });
    },
  };
}
