/**
 * An emulated `AlipayJSBridge` for plain browsers: pages written for the container's
 * `rpc` JSAPI run unchanged, their calls going through a client (any dialect, any
 * transport but the JSBridge one).
 *
 * What the callback gets, as the container gives it:
 * - success, `getResponse: true`: `{ header: {}, resData: <data> }`. The header is empty
 *   because `client.call` returns the business data only, not the gateway's headers.
 * - success without getResponse: the data itself when it is an object or array,
 *   `{ resData: <data> }` when it is a string, number, boolean or null.
 * - failure: `{ error, errorMessage }`; with an `mgs` client, `error` is the gateway's numeric
 *   result code when the error carries one. Otherwise (and always behind another dialect, whose
 *   codes mean something else to a page) it is mapped from the RpcError code: 10 (network),
 *   11 (timeout, abort), 2 (bad parameters or config), the mgs code for a protocol error
 *   (e.g. 7002, 1002, 6666), or 3 (unknown error).
 * - any other JSAPI: `{ error: 1, errorMessage }` (no such API).
 */
import { MAX_TIMER_MS, RpcError, badConfig, type RpcErrorCode } from '../errors.js';
import type { CallOptions } from '../types.js';
import { BRIDGE_BAD_PARAMS, BRIDGE_NETWORK, BRIDGE_NO_SUCH_API, BRIDGE_TIMEOUT, SHIM_MARK, type AlipayJSBridgeLike } from './jsbridge.js';

/** What the shim needs of a client (the one `createClient` returns fits). */
export interface ShimClient {
  call(operationType: string, params: any, options?: CallOptions): Promise<unknown>;
  /**
   * `textParams`: `_requestBody` is passed on as the string it is (not parsed and written
   * again, which would lose digits). `name: 'mgs'`: gateway result codes are the container's own.
   */
  readonly profile?: { readonly name?: string; readonly textParams?: boolean };
}

export interface RpcShimOptions {
  /** The window to install into (default: globalThis). */
  target?: Record<string, any>;
  /** Where `AlipayJSBridgeReady` is dispatched (default: target.document). */
  document?: Pick<Document, 'dispatchEvent'>;
}

export interface RpcShim {
  /** False when a bridge was already there (a real container): the shim then does nothing. */
  readonly installed: boolean;
  /** Removes the global if the shim defined it (and nobody replaced it since). */
  uninstall(): void;
}

const UNKNOWN_ERROR = 3;

/** Container codes for errors that carry no numeric gateway code. */
const CONTAINER_CODE: Partial<Record<RpcErrorCode, number>> = {
  NETWORK: BRIDGE_NETWORK,
  TIMEOUT: BRIDGE_TIMEOUT,
  ABORTED: BRIDGE_TIMEOUT,
  BAD_REQUEST: BRIDGE_BAD_PARAMS,
  BAD_CONFIG: BRIDGE_BAD_PARAMS,
  KEY_NOT_SET: 7000,
  SIGN_PARAMS_INSUFFICIENT: 7001,
  SIGNATURE_INVALID: 7002,
  CLOCK_SKEW: 7003,
  TIMESTAMP_MISSING: 7007,
  SIGNATURE_MISSING: 7014,
  RATE_LIMITED: 1002,
  GATEWAY_BUSY: 1002,
  GATEWAY: 6666,
};

/** The callback's failure object for an error thrown by the client. */
function shimFailure(e: unknown, mgsCodes: boolean): { error: number; errorMessage: string } {
  if (e instanceof RpcError) {
    const gw = e.gatewayCode;
    // Only mgs result codes mean to a page what the container's do: sorted-sign's 1000 ("no such
    // app") would read as success. Other dialects' errors are mapped by their RpcError code.
    const error = mgsCodes && typeof gw === 'number' && Number.isInteger(gw) ? gw : (CONTAINER_CODE[e.code] ?? UNKNOWN_ERROR);
    return { error, errorMessage: e.message };
  }
  return { error: UNKNOWN_ERROR, errorMessage: 'the call failed' };
}

/** `requestData[0]._requestBody` (parsed, unless the client takes text; kept as a string when it is not JSON), else requestData itself. */
function shimParams(requestData: unknown, textParams: boolean): unknown {
  const first = Array.isArray(requestData) ? requestData[0] : undefined;
  if (first && typeof first === 'object' && typeof (first as { _requestBody?: unknown })._requestBody === 'string') {
    const text = (first as { _requestBody: string })._requestBody;
    if (textParams) return text;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  if (Array.isArray(requestData) && requestData.length === 1 && first && typeof first === 'object') return first;
  return requestData ?? {};
}

/** What the page got wrong in requestData (the gateway answers the container 3002 for it), or ''. */
function requestDataMistake(requestData: unknown): string {
  if (requestData != null && !Array.isArray(requestData)) return 'requestData must be an array: [{ _requestBody: JSON.stringify(params) }]';
  const first: unknown = Array.isArray(requestData) ? requestData[0] : undefined;
  if (first && typeof first === 'object' && '_requestBody' in first && typeof (first as { _requestBody: unknown })._requestBody !== 'string') return '_requestBody must be a string: JSON.stringify(params)';
  return '';
}

function successData(data: unknown, getResponse: boolean): unknown {
  if (getResponse) return { header: {}, resData: data };
  return typeof data === 'object' && data !== null ? data : { resData: data };
}

export function installRpcShim(client: ShimClient, given: RpcShimOptions | null = {}): RpcShim {
  if (!client || typeof client.call !== 'function') throw badConfig('client', 'installRpcShim needs a client with call(operationType, params)');
  // null means no options, as undefined does.
  if (given !== null && typeof given !== 'object') throw badConfig('installRpcShim', 'options must be an object such as { target }');
  const options = given ?? {};
  const target = options.target ?? (globalThis as Record<string, any>);
  if (target === null || (typeof target !== 'object' && typeof target !== 'function')) throw badConfig('target', 'must be the window (an object) to install AlipayJSBridge into');
  const doc = options.document ?? (target.document as RpcShimOptions['document']);
  // Checked before anything is installed, so a bad option leaves no global behind.
  if (options.document !== undefined && typeof options.document?.dispatchEvent !== 'function') throw badConfig('document', 'must have dispatchEvent (a Document)');
  if (target.AlipayJSBridge) return { installed: false, uninstall() {} };
  const textParams = client.profile?.textParams === true;
  const mgsCodes = client.profile?.name === 'mgs';

  const later = (cb: (data: unknown) => void, data: unknown) => {
    // Always asynchronous, as the container is; a throwing page callback stays the page's.
    setTimeout(() => cb(data), 0);
  };

  const bridge: AlipayJSBridgeLike & { [SHIM_MARK]: true } = {
    [SHIM_MARK]: true,
    call(api: string, opts?: unknown, cb?: unknown) {
      // The container also accepts call(api, cb).
      if (typeof opts === 'function' && cb === undefined) {
        cb = opts;
        opts = {};
      }
      const callback = typeof cb === 'function' ? (cb as (data: unknown) => void) : () => {};
      if (api !== 'rpc') return later(callback, { error: BRIDGE_NO_SUCH_API, errorMessage: `no such JSAPI: ${String(api)}` });
      const o = (opts ?? {}) as Record<string, unknown>;
      if (typeof o.operationType !== 'string' || !o.operationType) return later(callback, { error: BRIDGE_BAD_PARAMS, errorMessage: 'operationType is required' });
      // Not sent on as something else: the container's gateway refuses it (3002, bad format).
      const mistake = requestDataMistake(o.requestData);
      if (mistake) return later(callback, { error: mgsCodes ? 3002 : BRIDGE_BAD_PARAMS, errorMessage: mistake });
      const callOptions: CallOptions = {};
      // The JSAPI's timeout is in seconds. One beyond what a timer can wait (Infinity, 3e6) means "a long time", not bad params.
      if (typeof o.timeout === 'number' && o.timeout > 0) callOptions.timeoutMs = Math.min(o.timeout * 1000, MAX_TIMER_MS);
      // `gateway` and `headers` are the container's business: the client's profile and transport decide.
      let pending: Promise<unknown>;
      try {
        pending = client.call(o.operationType, shimParams(o.requestData, textParams), callOptions);
      } catch (e) {
        pending = Promise.reject(e);
      }
      pending.then(
        (data) => later(callback, successData(data, o.getResponse === true)),
        (e) => later(callback, shimFailure(e, mgsCodes)),
      );
    },
  };

  Object.defineProperty(target, 'AlipayJSBridge', { value: bridge, configurable: true, writable: true, enumerable: true });
  if (typeof doc?.dispatchEvent === 'function' && typeof Event === 'function') doc.dispatchEvent(new Event('AlipayJSBridgeReady'));

  return {
    installed: true,
    uninstall() {
      if (target.AlipayJSBridge === bridge) delete target.AlipayJSBridge;
    },
  };
}
