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
import { APP_SECRET_DEFAULTS, APP_SECRET_ERRORS, appSecretSign, DEFAULT_ISSUE_PATH } from '../profiles/app-secret.js';
import { checkSecret, cipherCache, resolveLegacyOptions, type LegacyOptions } from '../profiles/legacy.js';
import { raceTimeout, textResponse, type GatewayCore, type GatewayProfile, type OperationResult } from './gateway.js';

export interface AppSecretGatewayOptions extends LegacyOptions {
  /** The secret the apps embed (same value and options as the client's). */
  publicSecret: string;
  /** Issuance path (default `/secret_key/generate.json`). */
  issuePath?: string;
  /** Lifetime of an issued appId/appSecret (default 2 h). */
  credentialTtlMs?: number;
  /** Bound of the credential table (default 10000); when full the oldest credential goes (its app renews). */
  maxCredentials?: number;
}

interface IssuedCredential {
  appSecret: string;
  expiresAt: number;
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
  const config = resolveLegacyOptions(options, APP_SECRET_DEFAULTS);
  const publicSecret = checkSecret('publicSecret', options.publicSecret, config.keyFrom);
  const issuePath = options.issuePath ?? DEFAULT_ISSUE_PATH;
  const ttl = options.credentialTtlMs ?? 2 * 3_600_000;
  const maxCredentials = options.maxCredentials ?? 10_000;
  if (!(ttl > 0)) throw new TypeError('appSecret gateway: credentialTtlMs must be positive');
  if (!(maxCredentials > 0)) throw new TypeError('appSecret gateway: maxCredentials must be positive');
  const cipherFor = cipherCache(config, 64);
  const credentials = new Map<string, IssuedCredential>();

  /** A new appSecret that gives an AES key under the configured keyFrom (32 hex chars, as the Java originals issue). */
  function newAppSecret(core: GatewayCore): string {
    const bytes = core.random(16);
    return config.keyFrom === 'base64' ? toBase64(bytes) : toHex(bytes);
  }

  function remember(appId: string, cred: IssuedCredential, now: number): void {
    if (credentials.size >= maxCredentials) {
      // The TTL is constant, so insertion order is expiry order: stop at the first live one.
      for (const [id, c] of credentials) {
        if (c.expiresAt > now) break;
        credentials.delete(id);
      }
      // Still full: the oldest goes first (insertion order); its app gets secret_pass_time_error and renews.
      for (const id of credentials.keys()) {
        if (credentials.size < maxCredentials) break;
        credentials.delete(id);
      }
    }
    credentials.set(appId, cred);
  }

  async function handle(request: Request, core: GatewayCore): Promise<Response> {
    const path = new URL(request.url).pathname;
    const issuance = path === issuePath;
    if (!issuance && !core.hasOperation(path)) {
      core.reject('NOT_FOUND');
      return textResponse(404, 'not_found');
    }
    if (request.method !== 'POST') {
      core.reject('METHOD_NOT_ALLOWED');
      return textResponse(405, 'method_not_allowed', { allow: 'POST' });
    }
    const body = await core.readText(request);
    try {
      // Outer layer: every key and value under the publicSecret.
      const outer = cipherFor(publicSecret);
      const m = new Map<string, string>();
      for (const [ek, ev] of formDecode(body)) {
        let k: string, v: string;
        try {
          [k, v] = await Promise.all([outer.decrypt(ek), outer.decrypt(ev)]);
        } catch {
          throw new Refusal(APP_SECRET_ERRORS.param, 'BAD_REQUEST');
        }
        if (m.has(k)) throw new Refusal(APP_SECRET_ERRORS.param, 'BAD_REQUEST');
        m.set(k, v);
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
      for (const [k, v] of m) {
        if (k === 'sign' || k === 'appId') continue;
        try {
          params[k] = await inner.decrypt(v);
        } catch {
          throw new Refusal(APP_SECRET_ERRORS.param, 'BAD_REQUEST');
        }
      }

      if (issuance) {
        core.count('issuance');
        const now = core.now();
        const newId = toHex(core.random(16));
        const cred = { appSecret: newAppSecret(core), expiresAt: now + ttl };
        remember(newId, cred, now);
        const answer = JSON.stringify({ data: { appId: newId, appSecret: cred.appSecret }, success: true });
        return textResponse(200, await outer.encrypt(answer, core.random));
      }

      core.count('call');
      const run = core.run(path, params, { operationType: path, dialect: 'app-secret', appId, headers: request.headers });
      const result: OperationResult = (await raceTimeout(run, core.operationTimeoutMs)) ?? { ok: false, code: 'TIMEOUT', message: 'timeout' };
      const envelope = result.ok ? { success: true, data: result.data } : { success: false, msg: result.message, code: result.code };
      return textResponse(200, await inner.encrypt(JSON.stringify(envelope), core.random));
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      core.reject(e.code);
      // The scheme's refusals are HTTP 200 with a plain-text body, never encrypted.
      return textResponse(200, e.body);
    }
  }

  return {
    name: 'app-secret',
    handle,
    expireCredentials() {
      credentials.clear();
    },
    cacheSizes() {
      return { credentials: credentials.size };
    },
  };
}
