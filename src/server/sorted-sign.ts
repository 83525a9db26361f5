/**
 * The gateway half of `sorted-sign` (PROTOCOLS.md §2). Order of checks: app, decryption
 * (both answered in plain JSON: nothing was readable yet), then signature, time window,
 * safeCode (answered encrypted, echoing the safeCode). A safeCode is recorded only after
 * the signature and the window pass; the record is bounded and fails closed when full.
 * Every response carries a `Date` header.
 */
import { constantTimeEqualString } from '../codec/bytes.js';
import { checkSecret, LEGACY_OPTIONS, legacyCipher, resolveLegacyOptions, type LegacyCipher, type LegacyOptions } from '../profiles/legacy.js';
import { SORTED_SIGN_CODES, SORTED_SIGN_DEFAULTS, SORTED_SIGN_OPTIONS, SORTED_SIGN_REFUSALS, sortedSignSignature, type SignRule } from '../profiles/sorted-sign.js';
import { resultText, UNSERIALIZABLE, count, refuseUnknownGatewayOptions, legacyBodyText, positive, detached, GatewayReject, isThenable, runBounded, setParam, wireProfile, type GatewayAnswer, type GatewayCore, type GatewayProfile, type GatewayRequest, type OperationResult, operationContext } from './gateway.js';

export interface SortedSignGatewayOptions extends LegacyOptions {
  /** App keys by appId, as the service console lists them. */
  apps: Record<string, string>;
  signRule?: SignRule;
  /** Accepted |now − timestamp| in ms (default 5000). */
  windowMs?: number;
  /** Bound of the safeCode record (default 100000); full -> 503 GATEWAY_BUSY, never forgetting a live safeCode. */
  maxSafeCodes?: number;
  /** Echo the request's safeCode in encrypted replies (default true). */
  safeCodeEcho?: boolean;
}

/** Protocol codes an operation may not use: the client would act on them (clock, replay). */
const RESERVED_CODES = new Set<number>([SORTED_SIGN_CODES.ok, ...Object.keys(SORTED_SIGN_REFUSALS).map(Number)]);

const refusalName = (code: number): string | undefined => SORTED_SIGN_REFUSALS[code]?.error;

/** Longest safeCode kept for replay checks (the SDK sends 13 digits). */
const MAX_SAFE_CODE_CHARS = 64;
/** How far ahead a request answered 1003 may be and still be remembered against its replay. */
const AHEAD_REMEMBERED_MS = 86_400_000;
/** How often the ahead record is swept of requests past their window, on requests. */
const AHEAD_SWEEP_MS = 60_000;

function businessCode(code: string): number | string {
  const n = /^-?[0-9]{1,9}$/.test(code) ? Number(code) : undefined;
  if (n === undefined) return code;
  return RESERVED_CODES.has(n) ? 'INTERNAL' : n;
}

/** Parse `k=v&k=v` as the signer joined it: split on `&`, then on the first `=`; no unescaping. */
function parseRaw(text: string): [string, string][] | undefined {
  const out: [string, string][] = [];
  const seen = new Set<string>();
  for (const part of text.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const k = part.slice(0, eq);
    if (seen.has(k)) return undefined;
    seen.add(k);
    out.push([k, part.slice(eq + 1)]);
  }
  return out;
}

export function sortedSign(options: SortedSignGatewayOptions): GatewayProfile {
  if (!options || typeof options !== 'object') throw new TypeError('sortedSign gateway: needs options { apps }');
  refuseUnknownGatewayOptions(options, ['apps', 'signRule', 'windowMs', 'maxSafeCodes', 'safeCodeEcho', ...LEGACY_OPTIONS], 'sortedSign gateway', SORTED_SIGN_OPTIONS);
  const config = resolveLegacyOptions(options, SORTED_SIGN_DEFAULTS);
  if (!options.apps || typeof options.apps !== 'object' || Object.keys(options.apps).length === 0) throw new TypeError('sortedSign gateway: apps needs at least one { appId: appKey }');
  const apps = new Map<string, { appKey: string; cipher: LegacyCipher }>();
  for (const [i, [appId, appKey]] of Object.entries(options.apps).entries()) {
    // Named by position: with { [appKey]: appId } written the wrong way round, the name is the secret.
    checkSecret(`apps (entry number ${i + 1}: its appKey)`, appKey, config.keyFrom);
    apps.set(appId, { appKey, cipher: legacyCipher(appKey, config) });
  }
  const signRule = options.signRule ?? 'sorted';
  if (signRule !== 'sorted' && signRule !== 'timestamp-key') throw new TypeError('sortedSign gateway: signRule must be "sorted" or "timestamp-key"');
  const windowMs = positive('windowMs', options.windowMs, 5000, 'sortedSign gateway');
  const maxSafeCodes = count('maxSafeCodes', options.maxSafeCodes, 100_000, 'sortedSign gateway');
  const echo = options.safeCodeEcho ?? true;
  if (typeof echo !== 'boolean') throw new TypeError('sortedSign gateway: safeCodeEcho must be true or false (as the clients\' option)');
  // appId + "\n" + safeCode -> when it may be forgotten. Insertion order is expiry order (same TTL), so purging stops at the first live one.
  const safeCodes = new Map<string, number>();
  // safeCodes of signed requests answered 1003 because they were stamped ahead: such a request
  // becomes acceptable once the clock reaches timestamp − window, long after its client resent it
  // with a fresh safeCode, so a copy sent then is a replay. Kept until timestamp + window. Not in
  // time order: swept when full (at most once a second), else it fails closed like safeCodes.
  const aheadCodes = new Map<string, number>();
  let aheadSweptAt = -Infinity;
  function sweepAhead(now: number): void {
    aheadSweptAt = now;
    for (const [k, u] of aheadCodes) if (u <= now) aheadCodes.delete(k);
  }
  function rememberAhead(key: string, until: number, now: number): void {
    if (aheadCodes.has(key)) return;
    if (aheadCodes.size >= maxSafeCodes && now - aheadSweptAt >= 1000) sweepAhead(now);
    if (aheadCodes.size >= maxSafeCodes) throw new GatewayReject(503, 'GATEWAY_BUSY');
    aheadCodes.set(key, until);
  }

  function purge(now: number): void {
    for (const [k, until] of safeCodes) {
      if (until > now) break;
      safeCodes.delete(k);
    }
    // With time too, not only when full: a record kept up to a day must not stay for the life of the gateway (a full scan, at most once a minute).
    if (now - aheadSweptAt >= AHEAD_SWEEP_MS) sweepAhead(now);
  }

  async function serve(request: GatewayRequest, core: GatewayCore): Promise<GatewayAnswer> {
    const now = core.now();
    const date = new Date(now).toUTCString();
    const plain = (code: number, msg = SORTED_SIGN_REFUSALS[code].message): GatewayAnswer => {
      core.reject(refusalName(code) ?? String(code));
      return { status: 200, headers: { 'content-type': 'application/json', date }, body: JSON.stringify({ code, msg, timestamp: now }) };
    };
    const path = request.pathname;
    if (!core.hasOperation(path)) {
      core.reject('NOT_FOUND');
      return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', date }, body: 'not_found' };
    }
    let appId: unknown, params: unknown;
    if (request.method === 'GET') {
      appId = request.query('appId') ?? undefined;
      params = request.query('params') ?? undefined;
    } else if (request.method === 'POST') {
      const text = await legacyBodyText(request);
      if (text === undefined) return plain(SORTED_SIGN_CODES.paramsInvalid);
      try {
        ({ appId, params } = JSON.parse(text) as { appId?: unknown; params?: unknown });
      } catch {
        return plain(SORTED_SIGN_CODES.paramsInvalid);
      }
    } else {
      core.reject('METHOD_NOT_ALLOWED');
      // The content-type a web Response gives a string body by default, written out so both paths send the same.
      return { status: 405, headers: { allow: 'GET, POST', date, 'content-type': 'text/plain;charset=UTF-8' }, body: 'method_not_allowed' };
    }
    const app = typeof appId === 'string' || typeof appId === 'number' ? apps.get(String(appId)) : undefined;
    if (!app) return plain(SORTED_SIGN_CODES.appNotFound);
    if (typeof params !== 'string' || params === '') return plain(SORTED_SIGN_CODES.paramsInvalid);
    let decrypted: string;
    try {
      decrypted = await app.cipher.decrypt(params);
    } catch {
      return plain(SORTED_SIGN_CODES.paramsInvalid);
    }

    // From here the request was readable: every reply is encrypted.
    const fields = parseRaw(decrypted);
    const q = new Map(fields ?? []);
    const safeCode = q.get('safeCode');
    const sealed = async (code: number | string, msg = SORTED_SIGN_REFUSALS[code as number].message, data?: unknown): Promise<GatewayAnswer> => {
      if (typeof code === 'number' && refusalName(code)) core.reject(refusalName(code)!);
      const reply: Record<string, unknown> = { code, msg };
      if (data !== undefined) reply.data = data;
      if (echo && safeCode !== undefined) reply.safeCode = safeCode;
      reply.timestamp = core.now();
      const text = resultText(core, reply);
      if (text === undefined) return sealed('INTERNAL', UNSERIALIZABLE);
      return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', date }, body: await app.cipher.encrypt(text, core.random) };
    };
    if (!fields) return sealed(SORTED_SIGN_CODES.paramsInvalid);
    const given = q.get('signature');
    if (given === undefined) return sealed(SORTED_SIGN_CODES.signatureInvalid, 'signature missing');
    const expected = await sortedSignSignature(
      fields.filter(([k]) => k !== 'signature'),
      signRule,
      app.appKey,
      config.digest,
    );
    if (!constantTimeEqualString(given, expected)) return sealed(SORTED_SIGN_CODES.signatureInvalid);
    const ts = q.get('timestamp');
    if (ts === undefined || !/^[0-9]{1,16}$/.test(ts) || safeCode === undefined || safeCode === '') return sealed(SORTED_SIGN_CODES.paramsInvalid);
    if (safeCode.length > MAX_SAFE_CODE_CHARS) return sealed(SORTED_SIGN_CODES.paramsInvalid);
    // Kept for 2 × window: a copy, so the entry does not keep the request's whole plaintext alive.
    const seenKey = detached(String(appId) + '\n' + safeCode);
    if (Math.abs(now - Number(ts)) > windowMs) {
      // Up to a day ahead (the clients' default bound on a clock correction): a static appKey has
      // no expiry to bound the record by, and a request further ahead is not resent by its client.
      if (Number(ts) > now && Number(ts) - now <= AHEAD_REMEMBERED_MS) rememberAhead(seenKey, Number(ts) + windowMs + 1, now);
      return sealed(SORTED_SIGN_CODES.timestampOutOfWindow);
    }
    purge(now);
    const until = safeCodes.get(seenKey);
    if ((until !== undefined && until > now) || (aheadCodes.get(seenKey) ?? 0) > now) return sealed(SORTED_SIGN_CODES.replayed);
    if (safeCodes.size >= maxSafeCodes) throw new GatewayReject(503, 'GATEWAY_BUSY');
    // A request is accepted while |now − ts| <= window, so at most 2 × window after the first
    // time it was: kept one millisecond longer than that, so its last acceptable instant is covered.
    safeCodes.set(seenKey, now + 2 * windowMs + 1);

    core.count('call');
    const business: Record<string, string> = {};
    for (const [k, v] of fields) if (k !== 'timestamp' && k !== 'safeCode' && k !== 'signature') setParam(business, k, v);
    const ctx = operationContext(request, 'sorted-sign', path, String(appId));
    const ran = runBounded(core, path, business, ctx, { ok: false, code: 'TIMEOUT', message: 'timeout' });
    // A timeout is a business error whose code is no protocol code.
    const result: OperationResult = isThenable(ran) ? await ran : ran;
    if (result.ok) return sealed(SORTED_SIGN_CODES.ok, 'ok', result.data);
    return sealed(businessCode(result.code), result.message);
  }

  return wireProfile(
    {
      name: 'sorted-sign',
      routesByPath: true,
      cacheSizes() {
        return { safeCodes: safeCodes.size, aheadCodes: aheadCodes.size };
      },
    },
    serve,
  );
}
