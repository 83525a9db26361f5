/**
 * The gateway half of `modern` (PROTOCOLS.md §4). Checks run in the order the spec gives;
 * every cache (credentials, nonces, request ids) is bounded and fails closed when full.
 */
import { fromBase64UrlStrict, toBase64Url } from '../codec/base64.js';
import { toHex } from '../codec/hex.js';
import { utf8ByteLength, utf8Decode, utf8Encode } from '../codec/utf8.js';
import { gcmOpen, gcmSeal, type GcmKey } from '../crypto/aes.js';
import { sha256 } from '../crypto/digest.js';
import { checkPoint, ecdhDerive, ecdsaSign, ecSignKey, ecSignScalar, generateEcdh, type EcdhPair, type EcSignKey } from '../crypto/ec.js';
import { importSessionKeys, issuanceMessage, KID_PATTERN, MODERN_OPTIONS, requestAad } from '../profiles/modern.js';
import { jsonText, resultText, UNSERIALIZABLE, GatewayReject, refuseUnknownGatewayOptions, isThenable, issuanceRate, jsonAnswer, count, positive, raceTimeout, runOperation, textAnswer, wireProfile, type GatewayAnswer, type GatewayCore, type GatewayProfile, type GatewayRequest, type OperationResult, operationContext } from './gateway.js';

export interface ModernGatewayOptions {
  /** Long-term ECDSA P-256 signing keys by kid (PKCS#8 PEM or 32-byte scalar). */
  signingKeys: Record<string, string | Uint8Array>;
  /** The kid that signs new issuances (default: the first written; required when there are several kids and one looks like a number, as JavaScript lists those first). Keep the old kid in clients' serverKeys while rotating. */
  activeKid?: string;
  issuePath?: string;
  /** Credential lifetime (default 1 h). */
  credentialTtlMs?: number;
  /** Accepted |serverTime − x-ts| (default 300000). */
  windowMs?: number;
  /** Bound of the nonce cache (default 100000); full -> 503 GATEWAY_BUSY, never evicting a live nonce. */
  maxNonces?: number;
  /** Bound of the credential table (default 10000); full -> 429 RATE_LIMITED. */
  maxCredentials?: number;
  /** Issuances per client address per minute (default 120). */
  issuesPerMinute?: number;
  /** Calls per credential per minute (default 30000). */
  callsPerMinute?: number;
  /** Bound of stored request results: count (default 100000) and bytes (default 32 MiB). */
  maxRequestIds?: number;
  maxStoredBytes?: number;
  /**
   * How to tell clients apart for the issuance rate. Default: the socket's peer address,
   * which only the Node adapter (`toNodeHandler`) sets; without it every client shares one
   * 'unknown' bucket. Headers a client can set (x-forwarded-for) are never trusted by default:
   * behind a proxy, or on another runtime (Deno, Bun, workers), pass `clientAddress`,
   * e.g. reading the client IP your own proxy sets.
   */
  clientAddress?: (request: Request) => string;
  /** @internal Tests: a fixed ephemeral key pair, to reproduce the vectors. */
  ephemeral?: () => Promise<EcdhPair>;
}

interface Credential {
  appId: string;
  expiresAt: number;
  reqKey: GcmKey;
  resKey: GcmKey;
  rate: { windowStart: number; count: number };
  /** What this credential holds in the shared records now (see CREDENTIAL_SHARE). */
  held: { nonces: number; ahead: number; ids: number; bytes: number };
}

interface RequestRecord {
  binding: string;
  /** The counters of the credential whose call stored it (an id outlives a renewal's appId; its keys are not kept). */
  owner: Credential['held'];
  expiresAt: number;
  envelope?: string;
  /** The envelope's size in UTF-8 bytes, as counted into `storedBytes` and its owner's share. */
  size?: number;
  done?: Promise<void>;
}

/**
 * The part of each shared record (nonces, request ids, stored bytes) one credential may hold:
 * past it, its calls get 429 until its entries expire, so one credential cannot fill a record
 * that every caller needs (its call rate alone could: 30000/min over 2 × 5 min is 300000).
 */
const CREDENTIAL_SHARE = 1 / 8;

/** Codes only the protocol may send; an operation that uses one is answered as INTERNAL. */
const RESERVED = new Set(['CLOCK_SKEW', 'REPLAYED_REQUEST', 'REQUEST_ID_REUSED']);
const DIGITS = /^[0-9]{1,16}$/;
/** How often the ahead record is swept of requests past their window, on requests (an unordered record: a full scan). */
const AHEAD_SWEEP_MS = 60_000;

export function modern(options: ModernGatewayOptions): GatewayProfile {
  const kids = Object.keys(options?.signingKeys ?? {});
  if (kids.length === 0) throw new TypeError('modern gateway: signingKeys needs at least one key');
  refuseUnknownGatewayOptions(options, ['signingKeys', 'activeKid', 'issuePath', 'credentialTtlMs', 'windowMs', 'maxNonces', 'maxCredentials', 'issuesPerMinute', 'callsPerMinute', 'maxRequestIds', 'maxStoredBytes', 'clientAddress', 'ephemeral'], 'modern gateway', MODERN_OPTIONS);
  // The kid itself is not repeated: a map written the wrong way round has a private key there.
  kids.forEach((kid, i) => {
    if (!KID_PATTERN.test(kid)) throw new TypeError(`modern gateway: signingKeys has a key (number ${i + 1}) whose kid is not 1–64 characters of A-Z a-z 0-9 . _ -`);
  });
  // The first kid written signs by default, but JavaScript lists integer-like keys first and in
  // numeric order ({ '2': new, '1': old } starts with '1'): there the order written is lost.
  if (kids.length > 1 && options.activeKid === undefined && kids.some((kid) => /^(0|[1-9][0-9]*)$/.test(kid) && Number(kid) <= 4_294_967_294))
    throw new TypeError('modern gateway: activeKid is required when a kid looks like a number (such kids are not kept in the order written)');
  const activeKid = options.activeKid ?? kids[0];
  if (!kids.includes(activeKid)) throw new TypeError('modern gateway: activeKid must be one of signingKeys');
  const issuePath = options.issuePath ?? '/issue';
  const limit = (name: keyof ModernGatewayOptions, fallback: number, check = count) => check(name, options[name] as number | undefined, fallback, 'modern gateway');
  const ttl = limit('credentialTtlMs', 3_600_000, positive);
  const windowMs = limit('windowMs', 300_000, positive);
  const maxNonces = limit('maxNonces', 100_000);
  const maxCredentials = limit('maxCredentials', 10_000);
  const issuesPerMinute = limit('issuesPerMinute', 120);
  const callsPerMinute = limit('callsPerMinute', 30_000);
  const maxRequestIds = limit('maxRequestIds', 100_000);
  const maxStoredBytes = limit('maxStoredBytes', 32 * 1024 * 1024);
  const ephemeral = options.ephemeral ?? generateEcdh;
  const issueAllowed = issuanceRate(issuesPerMinute, options.clientAddress);

  // Every key, at construction: a wrong form (a public key, a SEC1 PEM, a file path, a Buffer)
  // would otherwise be a 500 at the first issuance, told to no one without onInternalError.
  // The kid is safe to name here (it passed KID_PATTERN); the key never is.
  for (const kid of kids) {
    try {
      ecSignScalar(options.signingKeys[kid]);
    } catch (e) {
      throw new TypeError(`modern gateway: signingKeys.${kid} ${(e as Error).message}`);
    }
  }
  const signer: Promise<EcSignKey> = ecSignKey(options.signingKeys[activeKid]);
  signer.catch(() => {}); // surfaced on first issuance
  const credentials = new Map<string, Credential>();
  const shareOf = (max: number) => Math.max(1, Math.floor(max * CREDENTIAL_SHARE));
  // Insertion order is time order, so expired entries are always at the front.
  const nonces = new Map<string, number>();
  // Nonces of authenticated requests answered CLOCK_SKEW because x-ts was ahead, until the last
  // instant they could be accepted (no later than their credential's expiry: 401 after that).
  // Not in time order: swept when full (at most once a second, so a full record costs no scan
  // per request), else it fails closed like the nonce record.
  const aheadNonces = new Map<string, number>();
  let aheadSweptAt = -Infinity;
  function sweepAhead(now: number): void {
    aheadSweptAt = now;
    for (const [k, u] of aheadNonces) {
      if (u > now) continue;
      aheadNonces.delete(k);
      const owner = credentials.get(k.slice(0, k.indexOf(':')));
      if (owner) owner.held.ahead--;
    }
  }
  function rememberAhead(cred: Credential, key: string, until: number, now: number): void {
    if (aheadNonces.has(key)) return; // the same request again: kept already
    if (aheadNonces.size >= maxNonces || cred.held.ahead >= shareOf(maxNonces)) {
      if (now - aheadSweptAt >= 1000) sweepAhead(now);
      if (cred.held.ahead >= shareOf(maxNonces)) throw new GatewayReject(429, 'RATE_LIMITED');
      if (aheadNonces.size >= maxNonces) throw new GatewayReject(503, 'GATEWAY_BUSY');
    }
    aheadNonces.set(key, until);
    cred.held.ahead++;
  }
  const requests = new Map<string, RequestRecord>();
  let storedBytes = 0;
  /** Issuances past their checks and still making keys (each adds its credential at the end). */
  let issuing = 0;


  function overRate(r: { windowStart: number; count: number }, now: number, limit: number): boolean {
    // (A clock that stepped back starts a new window too, rather than hold this one until it catches up.)
    if (now - r.windowStart >= 60_000 || now < r.windowStart) {
      r.windowStart = now;
      r.count = 0;
    }
    return ++r.count > limit;
  }

  function purge(now: number, core: GatewayCore): void {
    for (const [k, exp] of nonces) {
      if (exp > now) break;
      nonces.delete(k);
      const owner = credentials.get(k.slice(0, k.indexOf(':'))); // appId is b64u: no ':' in it
      if (owner) owner.held.nonces--;
    }
    for (const [k, r] of requests) {
      if (r.expiresAt > now) break;
      // Still running: kept while a resend may wait for it; one that never settles is let go after its timeout too.
      if (!r.envelope && r.expiresAt + core.operationTimeoutMs > now) continue;
      requests.delete(k);
      r.owner.ids--;
      const kept = r.size ?? 0;
      storedBytes -= kept;
      r.owner.bytes -= kept;
    }
    // With time, not only when the table is full: a gateway that runs for weeks must not keep
    // every expired credential's keys. The TTL is constant, so insertion order is expiry order:
    // stop at the first live one.
    for (const [k, c] of credentials) {
      if (c.expiresAt > now) break;
      credentials.delete(k);
    }
    // The ahead record is not in time order: swept at most once a minute (when full, rememberAhead sweeps it too).
    if (now - aheadSweptAt >= AHEAD_SWEEP_MS) sweepAhead(now);
  }

  async function issue(request: GatewayRequest, core: GatewayCore): Promise<GatewayAnswer> {
    const now = core.now();
    purge(now, core);
    // Issuances still making their keys count: each adds its credential only at the end.
    if (!issueAllowed(request, now) || credentials.size + issuing >= maxCredentials) throw new GatewayReject(429, 'RATE_LIMITED');
    issuing++;
    try {
      return await issueAfterChecks(request, core, now);
    } finally {
      issuing--;
    }
  }

  async function issueAfterChecks(request: GatewayRequest, core: GatewayCore, now: number): Promise<GatewayAnswer> {
    let clientKey: string;
    let clientRaw: Uint8Array;
    try {
      const body = JSON.parse(await request.text()) as { clientKey?: unknown };
      if (typeof body?.clientKey !== 'string') throw new Error('clientKey');
      clientKey = body.clientKey;
      clientRaw = fromBase64UrlStrict(clientKey);
      // Refuse a bad point before making keys for it (ecdhDerive checks again; the check is cheap, a key pair is not).
      checkPoint(clientRaw);
    } catch (e) {
      if (e instanceof GatewayReject) throw e;
      throw new GatewayReject(400, 'BAD_REQUEST');
    }
    const pair = await ephemeral();
    const saltRaw = core.random(32);
    const appId = toBase64Url(core.random(16));
    const z = await ecdhDerive(pair, clientRaw);
    const { reqKey, resKey } = await importSessionKeys(z, saltRaw, appId);
    const expiresAt = String(now + ttl);
    const fields = { kid: activeKid, appId, expiresAt, serverTime: String(now), clientKey, serverKey: toBase64Url(pair.publicRaw), salt: toBase64Url(saltRaw) };
    const sig = toBase64Url(await ecdsaSign(await signer, utf8Encode(issuanceMessage(fields))));
    credentials.set(appId, { appId, expiresAt: now + ttl, reqKey, resKey, rate: { windowStart: now, count: 0 }, held: { nonces: 0, ahead: 0, ids: 0, bytes: 0 } });
    core.count('issuance');
    // Field order as in the spec's example (any order is valid JSON; this one diffs cleanly against the vectors).
    return jsonAnswer(200, { kid: fields.kid, appId, expiresAt, serverTime: fields.serverTime, serverKey: fields.serverKey, salt: fields.salt, sig });
  }

  async function sealEnvelope(cred: Credential, nonce: string, envelope: string, core: GatewayCore): Promise<GatewayAnswer> {
    const body = toBase64Url(await gcmSeal(cred.resKey, utf8Encode(envelope), utf8Encode(nonce), core.random(12)));
    return textAnswer(200, body, { 'content-type': 'text/plain' });
  }

  function errorEnvelope(code: string, message: string, now: number): string {
    return JSON.stringify({ ok: false, error: { code, message, serverTime: String(now) } });
  }

  function envelopeOf(result: OperationResult, core: GatewayCore): string {
    if (!result.ok) return errorEnvelope(RESERVED.has(result.code) ? 'INTERNAL' : result.code, result.message, core.now());
    // The data's own JSON first: a value JSON leaves out (a function, toJSON() giving undefined) would drop the data field.
    const data = resultText(core, result.data ?? null);
    return data === undefined ? errorEnvelope('INTERNAL', UNSERIALIZABLE, core.now()) : `{"ok":true,"data":${data}}`;
  }

  async function call(request: GatewayRequest, op: string, core: GatewayCore): Promise<GatewayAnswer> {
    core.count('call');
    if (!core.hasOperation(op)) throw new GatewayReject(404, 'NOT_FOUND');
    const text = await request.text();
    const appId = request.header('x-app-id');
    const ts = request.header('x-ts');
    const nonce = request.header('x-nonce');
    if (!appId || !ts || !nonce || !DIGITS.test(ts)) throw new GatewayReject(400, 'BAD_REQUEST');
    let sealed: Uint8Array;
    try {
      if (fromBase64UrlStrict(nonce).length !== 16) throw new Error('nonce');
      sealed = fromBase64UrlStrict(text);
    } catch {
      throw new GatewayReject(400, 'BAD_REQUEST');
    }
    const now = core.now();
    const cred = credentials.get(appId);
    if (!cred || cred.expiresAt <= now) throw new GatewayReject(401, 'CREDENTIAL_EXPIRED');
    let opened: Uint8Array;
    try {
      opened = await gcmOpen(cred.reqKey, sealed, requestAad(appId, op, ts, nonce));
    } catch {
      throw new GatewayReject(403, 'SIGNATURE_INVALID');
    }
    // Authenticated from here on: a bad plaintext is the sender's mistake (400), not a forgery (403).
    let parsed: { id?: unknown; params?: unknown };
    try {
      parsed = JSON.parse(utf8Decode(opened)) as typeof parsed;
    } catch {
      throw new GatewayReject(400, 'BAD_REQUEST');
    }
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.id !== 'string' || parsed.id.length === 0 || parsed.id.length > 128 || !('params' in parsed))
      throw new GatewayReject(400, 'BAD_REQUEST');
    if (overRate(cred.rate, now, callsPerMinute)) throw new GatewayReject(429, 'RATE_LIMITED');

    const nonceKey = appId + ':' + nonce;
    if (Math.abs(now - Number(ts)) > windowMs) {
      // Stamped ahead, this exact request becomes acceptable once the clock reaches x-ts − window;
      // its client has long since resent it with a fresh nonce, so a copy sent then is a replay.
      if (Number(ts) > now) rememberAhead(cred, nonceKey, Math.min(Number(ts) + windowMs, cred.expiresAt) + 1, now);
      core.reject('CLOCK_SKEW');
      return sealEnvelope(cred, nonce, errorEnvelope('CLOCK_SKEW', 'x-ts is outside the window', now), core);
    }
    if (nonces.has(nonceKey) || (aheadNonces.get(nonceKey) ?? 0) > now) {
      core.reject('REPLAYED_REQUEST');
      return sealEnvelope(cred, nonce, errorEnvelope('REPLAYED_REQUEST', 'nonce already used', now), core);
    }
    purge(now, core);
    if (cred.held.nonces >= shareOf(maxNonces)) throw new GatewayReject(429, 'RATE_LIMITED');
    if (nonces.size >= maxNonces) throw new GatewayReject(503, 'GATEWAY_BUSY');
    // Accepted while |now − x-ts| <= window: at most 2 × window after this; one millisecond more covers that last instant.
    nonces.set(nonceKey, now + 2 * windowMs + 1);
    cred.held.nonces++;

    const id = parsed.id;
    const paramsText = jsonText(parsed.params);
    // Authenticated but unusable (nested past what the engine's stack can write): §4 step 3's 400.
    if (paramsText === undefined) throw new GatewayReject(400, 'BAD_REQUEST');
    const binding = toHex(await sha256(utf8Encode(op + '\n' + paramsText)));
    let record = requests.get(id);
    if (record && record.binding !== binding) {
      core.reject('REQUEST_ID_REUSED');
      return sealEnvelope(cred, nonce, errorEnvelope('REQUEST_ID_REUSED', 'request id used with other parameters', now), core);
    }
    if (record && !record.envelope) {
      // The first send is still running: wait for it rather than run it twice.
      const ended = await raceTimeout(record.done!.then(() => true), core.operationTimeoutMs);
      if (!ended || !record.envelope) throw new GatewayReject(503, 'GATEWAY_BUSY');
    }
    if (record?.envelope) return sealEnvelope(cred, nonce, record.envelope, core);

    if (cred.held.ids >= shareOf(maxRequestIds) || cred.held.bytes >= shareOf(maxStoredBytes)) throw new GatewayReject(429, 'RATE_LIMITED');
    if (requests.size >= maxRequestIds || storedBytes >= maxStoredBytes) throw new GatewayReject(503, 'GATEWAY_BUSY');
    let finish!: () => void;
    const rec: RequestRecord = { binding, owner: cred.held, expiresAt: now + 2 * windowMs + 1, done: new Promise<void>((r) => (finish = r)) };
    requests.set(id, rec);
    cred.held.ids++;
    const store = (result: OperationResult): string => {
      try {
        const env = envelopeOf(result, core);
        if (requests.get(id) !== rec) return env; // let go by purge (it ran past its timeout and window): not counted again
        // This request gets its answer; a resend gets it too only where it fits the credential's share and the total.
        const size = utf8ByteLength(env);
        const fits = cred.held.bytes + size <= shareOf(maxStoredBytes) && storedBytes + size <= maxStoredBytes;
        rec.envelope = fits ? env : errorEnvelope('INTERNAL', 'the result was too large to keep for a resend', core.now());
        rec.size = fits ? size : utf8ByteLength(rec.envelope);
        storedBytes += rec.size;
        cred.held.bytes += rec.size;
        return env;
      } finally {
        finish();
      }
    };
    const ran = runOperation(core, op, parsed.params, operationContext(request, 'modern', op, appId));
    let env: string | undefined;
    if (isThenable(ran)) {
      // The run keeps going past the timeout and stores its envelope when it ends, so a
      // resend after a 503 gets that result instead of running the operation again.
      env = await raceTimeout(
        ran.then(store).finally(() => finish()),
        core.operationTimeoutMs,
      );
      if (env === undefined) throw new GatewayReject(503, 'GATEWAY_BUSY');
    } else env = store(ran);
    return sealEnvelope(cred, nonce, env, core);
  }

  function serve(request: GatewayRequest, core: GatewayCore): Promise<GatewayAnswer> {
    const op = request.header('x-op');
    if (op === null) {
      if (request.method === 'POST' && request.pathname === issuePath) return issue(request, core);
      throw new GatewayReject(request.pathname === issuePath ? 405 : 400, 'BAD_REQUEST');
    }
    // §4 step 1: an unknown x-op is 404 whatever the method.
    if (request.method !== 'POST') throw new GatewayReject(core.hasOperation(op) ? 400 : 404, core.hasOperation(op) ? 'BAD_REQUEST' : 'NOT_FOUND');
    return call(request, op, core);
  }

  return wireProfile(
    {
      name: 'modern',
      expireCredentials() {
        credentials.clear();
      },
      cacheSizes() {
        return { credentials: credentials.size, nonces: nonces.size, aheadNonces: aheadNonces.size, requestIds: requests.size, storedBytes };
      },
    },
    async (request, core) => serve(request, core),
  );
}
