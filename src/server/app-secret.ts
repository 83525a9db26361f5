/**
 * The gateway half of `app-secret` (PROTOCOLS.md §1): issuance at `issuePath`, a bounded
 * credential table with a TTL, and the servlet-style plain-text refusals (HTTP 200)
 * `secret_pass_time_error`, `sign_error`, `param_error`. Business answers are envelopes
 * encrypted with the caller's appSecret (the publicSecret for issuance).
 */
import { constantTimeEqualString } from '../codec/bytes.js';
import { formDecode } from '../codec/form.js';
import { toBase64 } from '../codec/base64.js';
import { toHex } from '../codec/hex.js';
import { APP_SECRET_DEFAULTS, APP_SECRET_ERRORS, APP_SECRET_OPTIONS, appSecretSign, DEFAULT_ISSUE_PATH } from '../profiles/app-secret.js';
import { checkSecret, cipherCache, ciphertextBytes, LEGACY_OPTIONS, plainText, resolveLegacyOptions, type LegacyCipher, type LegacyOptions } from '../profiles/legacy.js';
import { ecbDecryptAll, ecbKey, type EcbKey } from '../crypto/aes.js';
import { deriveAesKey } from '../crypto/kdf.js';
import { resultText, UNSERIALIZABLE, count, refuseUnknownGatewayOptions, legacyBodyText, positive, setParam, detached, GatewayReject, isThenable, issuanceRate, runBounded, textAnswer, wireProfile, type GatewayAnswer, type GatewayCore, type GatewayProfile, type GatewayRequest, type OperationResult, operationContext } from './gateway.js';

export interface AppSecretGatewayOptions extends LegacyOptions {
  /** The secret the apps embed (same value and options as the client's). */
  publicSecret: string;
  /** Issuance path (default `/secret_key/generate.json`). */
  issuePath?: string;
  /** Lifetime of an issued appId/appSecret (default 2 h). */
  credentialTtlMs?: number;
  /** Bound of the credential table (default 10000); when full the oldest credential goes (its app renews). */
  maxCredentials?: number;
  /**
   * Issuances per client address per minute (default 120; past it 429, RATE_LIMITED at the
   * client), so that one address cannot push every live credential out of a full table.
   */
  issuesPerMinute?: number;
  /** How to tell clients apart for that rate: as `modern`'s (default: the Node adapter's socket address, else one shared bucket). */
  clientAddress?: (request: Request) => string;
}

interface IssuedCredential {
  appSecret: string;
  expiresAt: number;
}

/** Form entries (or values) decrypted per await: one await for a whole usual call, bounded work in flight for a huge form. */
const BATCH = 64;

/**
 * @internal `formDecode(body)`, without URLSearchParams for the usual body (base64 with `%2B %2F %3D`
 * escapes): a name or value with no `%` or `+` is taken as it is, others go through
 * decodeURIComponent, which gives the same text for valid escapes of valid UTF-8. Anything it
 * refuses (a stray `%`, bytes that are not UTF-8), and a leading `?`, goes to formDecode.
 */
export function decodeForm(body: string): [string, string][] {
  if (body.startsWith('?')) return formDecode(body);
  const out: [string, string][] = [];
  try {
    for (const part of body.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      out.push(eq < 0 ? [formComponent(part), ''] : [formComponent(part.slice(0, eq)), formComponent(part.slice(eq + 1))]);
    }
  } catch {
    return formDecode(body);
  }
  return out;
}

function formComponent(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  return decodeURIComponent(s.indexOf('+') < 0 ? s : s.replace(/\+/g, ' '));
}

/** Thrown inside the handler for the plain-text refusals; caught in `handle`. */
class Refusal extends Error {
  constructor(
    readonly body: string,
    readonly code: string,
  ) {
    super(code);
  }
}

export function appSecret(options: AppSecretGatewayOptions): GatewayProfile {
  if (!options || typeof options !== 'object') throw new TypeError('appSecret gateway: needs options { publicSecret }');
  refuseUnknownGatewayOptions(options, ['publicSecret', 'issuePath', 'credentialTtlMs', 'maxCredentials', 'issuesPerMinute', 'clientAddress', ...LEGACY_OPTIONS], 'appSecret gateway', APP_SECRET_OPTIONS);
  const config = resolveLegacyOptions(options, APP_SECRET_DEFAULTS);
  const publicSecret = checkSecret('publicSecret', options.publicSecret, config.keyFrom);
  const issuePath = options.issuePath ?? DEFAULT_ISSUE_PATH;
  if (typeof issuePath !== 'string' || !issuePath.startsWith('/')) throw new TypeError('appSecret gateway: issuePath must be a path starting with /');
  const ttl = positive('credentialTtlMs', options.credentialTtlMs, 2 * 3_600_000, 'appSecret gateway');
  const maxCredentials = count('maxCredentials', options.maxCredentials, 10_000, 'appSecret gateway');
  const issuesPerMinute = count('issuesPerMinute', options.issuesPerMinute, 120, 'appSecret gateway');
  const issueAllowed = issuanceRate(issuesPerMinute, options.clientAddress);
  const cipherFor = cipherCache(config, 64);
  // Form names by their outer-layer ciphertext. ECB and CBC (fixed IV) under the publicSecret
  // are deterministic, and every call of an app sends the same few names (appId, sign, its
  // params), so most name decryptions are repeats. Only successful decryptions are kept (a
  // ciphertext always decrypts to the same text, so a kept one is exactly what decrypting it
  // again would give); bounded, never evicted, so hostile names cannot grow it. The outer layer
  // hides nothing from whoever holds the app (the publicSecret is in it), so whether a name was
  // seen before is no secret either. GCM has a random IV per message: nothing to reuse.
  // A kept name is a copy (`detached`) of a short ciphertext: the form's text is a slice of the
  // request body, which the cache would otherwise keep alive, a whole body per entry.
  const outerNames = config.cipher === 'AES-GCM' ? undefined : new Map<string, string>();
  const OUTER_NAMES_MAX = 1024;
  const OUTER_NAME_MAX_CHARS = 256;
  const outerName = (outer: LegacyCipher, ek: string): string | Promise<string> => {
    const known = outerNames?.get(ek);
    if (known !== undefined) return known;
    const k = outer.decrypt(ek);
    if (outerNames && outerNames.size < OUTER_NAMES_MAX && ek.length <= OUTER_NAME_MAX_CHARS)
      k.then((name) => outerNames.size < OUTER_NAMES_MAX && outerNames.set(detached(ek), detached(name)), () => {});
    return k;
  };
  // One layer's values (every value of a call is under the same secret) decrypted together:
  // for ECB, one native call over all their blocks when useNodeCrypto() is on (ecbDecryptAll).
  // The key is the one `cipher` derives, kept beside it for as long as the cipher is cached.
  const ecbKeys = new WeakMap<LegacyCipher, Promise<EcbKey>>();
  const decryptLayer = async (secret: string, cipher: LegacyCipher, texts: string[]): Promise<string[]> => {
    if (config.cipher !== 'AES-ECB' || texts.length < 2) return Promise.all(texts.map((t) => cipher.decrypt(t)));
    let key = ecbKeys.get(cipher);
    if (!key) ecbKeys.set(cipher, (key = deriveAesKey(secret, config.keyFrom).then(ecbKey)));
    return (await ecbDecryptAll(await key, texts.map((t) => ciphertextBytes(t, config.encoding)))).map(plainText);
  };
  const credentials = new Map<string, IssuedCredential>();

  /** A new appSecret that gives an AES key under the configured keyFrom (32 hex chars, as the Java originals issue). */
  function newAppSecret(core: GatewayCore): string {
    const bytes = core.random(16);
    return config.keyFrom === 'base64' ? toBase64(bytes) : toHex(bytes);
  }

  /** Expired credentials go with time, not only when the table is full. The TTL is constant, so insertion order is expiry order: stop at the first live one. */
  function purge(now: number): void {
    for (const [id, c] of credentials) {
      if (c.expiresAt > now) break;
      credentials.delete(id);
    }
  }

  function remember(appId: string, cred: IssuedCredential, now: number): void {
    if (credentials.size >= maxCredentials) {
      // Still full: the oldest goes first (insertion order); its app gets secret_pass_time_error and renews.
      for (const id of credentials.keys()) {
        if (credentials.size < maxCredentials) break;
        credentials.delete(id);
      }
    }
    credentials.set(appId, cred);
  }

  async function serve(request: GatewayRequest, core: GatewayCore): Promise<GatewayAnswer> {
    const path = request.pathname;
    const issuance = path === issuePath;
    if (!issuance && !core.hasOperation(path)) {
      core.reject('NOT_FOUND');
      return textAnswer(404, 'not_found');
    }
    if (request.method !== 'POST') {
      core.reject('METHOD_NOT_ALLOWED');
      return textAnswer(405, 'method_not_allowed', { allow: 'POST' });
    }
    purge(core.now());
    // Before the body is read or decrypted: a flood of issuances costs the gateway nothing.
    if (issuance && !issueAllowed(request, core.now())) throw new GatewayReject(429, 'RATE_LIMITED');
    const body = await legacyBodyText(request);
    try {
      if (body === undefined) throw new Refusal(APP_SECRET_ERRORS.param, 'BAD_REQUEST');
      // Outer layer: every key and value under the publicSecret.
      const outer = cipherFor(publicSecret);
      const m = new Map<string, string>();
      const form = decodeForm(body);
      // Decrypted in batches, one await each (not two per entry); any failure -> param_error.
      for (let i = 0; i < form.length; i += BATCH) {
        const batch = form.slice(i, i + BATCH);
        let names: string[];
        let values: string[];
        try {
          [names, values] = await Promise.all([Promise.all(batch.map(([ek]) => outerName(outer, ek))), decryptLayer(publicSecret, outer, batch.map(([, ev]) => ev))]);
        } catch {
          throw new Refusal(APP_SECRET_ERRORS.param, 'BAD_REQUEST');
        }
        for (let j = 0; j < batch.length; j++) {
          if (m.has(names[j])) throw new Refusal(APP_SECRET_ERRORS.param, 'BAD_REQUEST');
          m.set(names[j], values[j]);
        }
      }
      if (m.size === 0) throw new Refusal(APP_SECRET_ERRORS.param, 'BAD_REQUEST');

      let secret = publicSecret;
      const appId = m.get('appId');
      if (!issuance) {
        const cred = appId === undefined ? undefined : credentials.get(appId);
        if (!cred || cred.expiresAt <= core.now()) {
          if (appId !== undefined) credentials.delete(appId);
          throw new Refusal(APP_SECRET_ERRORS.expired, 'CREDENTIAL_EXPIRED');
        }
        secret = cred.appSecret;
      }

      const given = m.get('sign');
      if (given === undefined) throw new Refusal(APP_SECRET_ERRORS.sign, 'SIGNATURE_INVALID');
      const expected = await appSecretSign(m, secret, config.digest);
      if (!constantTimeEqualString(given, expected)) throw new Refusal(APP_SECRET_ERRORS.sign, 'SIGNATURE_INVALID');

      // Inner layer: business values under the appSecret (the publicSecret at issuance).
      const inner = cipherFor(secret);
      const params: Record<string, string> = {};
      const names = [...m.keys()].filter((k) => k !== 'sign' && k !== 'appId');
      for (let i = 0; i < names.length; i += BATCH) {
        const batch = names.slice(i, i + BATCH);
        let plain: string[];
        try {
          plain = await decryptLayer(secret, inner, batch.map((k) => m.get(k)!));
        } catch {
          throw new Refusal(APP_SECRET_ERRORS.param, 'BAD_REQUEST');
        }
        batch.forEach((k, j) => setParam(params, k, plain[j]));
      }

      if (issuance) {
        core.count('issuance');
        const now = core.now();
        const newId = toHex(core.random(16));
        const cred = { appSecret: newAppSecret(core), expiresAt: now + ttl };
        remember(newId, cred, now);
        const answer = JSON.stringify({ data: { appId: newId, appSecret: cred.appSecret }, success: true });
        return textAnswer(200, await outer.encrypt(answer, core.random));
      }

      core.count('call');
      const ctx = operationContext(request, 'app-secret', path, appId);
      const ran = runBounded(core, path, params, ctx, { ok: false, code: 'TIMEOUT', message: 'timeout' });
      const result: OperationResult = isThenable(ran) ? await ran : ran;
      const envelope = result.ok ? { success: true, data: result.data } : { success: false, msg: result.message, code: result.code };
      const text = resultText(core, envelope) ?? JSON.stringify({ success: false, msg: UNSERIALIZABLE, code: 'INTERNAL' });
      return textAnswer(200, await inner.encrypt(text, core.random));
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      core.reject(e.code);
      // The scheme's refusals are HTTP 200 with a plain-text body, never encrypted.
      return textAnswer(200, e.body);
    }
  }

  return wireProfile(
    {
      name: 'app-secret',
      routesByPath: true,
      expireCredentials() {
        credentials.clear();
      },
      cacheSizes() {
        return { credentials: credentials.size, outerNames: outerNames?.size ?? 0 };
      },
    },
    serve,
  );
}
