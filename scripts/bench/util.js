// Helpers shared by the bench's implementations (browser-safe, no dependencies).

export function hexToBytes(h) {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
  return out;
}

/** `random(n)` hands out the pool's bytes in order; `reset()` rewinds. */
export function poolRandom(pool) {
  const bytes = typeof pool === 'string' ? hexToBytes(pool) : pool;
  let at = 0;
  return {
    random(n) {
      if (at + n > bytes.length) throw new Error('bench random pool exhausted');
      const out = bytes.slice(at, at + n);
      at += n;
      return out;
    },
    reset() {
      at = 0;
    },
  };
}

/** sorted-sign's safeCode: 13 decimal digits of a 64-bit number from 8 random bytes. */
export function safeCodeFromBytes(bytes) {
  let n = 0n;
  for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(bytes[i]);
  return (n % 10n ** 13n).toString().padStart(13, '0');
}

/** mgs's Ts: epoch ms in base 64 (0-9A-Za-z+/), most significant digit first. */
export function encodeTs(ms) {
  const A = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/';
  let s = '';
  for (let n = ms; n > 0; n = Math.floor(n / 64)) s = A[n % 64] + s;
  return s || '0';
}

/** `k=v&k=v`, raw values. */
export const joinRaw = (entries) => entries.map(([k, v]) => k + '=' + v).join('&');

/** A path from an operation name (`op` or `/op`). */
export const pathOf = (op) => (op.startsWith('/') ? op : '/' + op);

/**
 * The mgs client half as both references write it: MD5(Operation-Type=…&Request-Data=base64(body)&Ts=… + secret)
 * over a plain JSON body. `base64Utf8` and `md5Hex` are the reference's own primitives (crypto-js or node:crypto).
 */
export function mgsReference(name, fx, sf, { base64Utf8, md5Hex }) {
  const { appId, workspaceId, secret, did } = fx.clientOptions;
  return {
    name,
    sameWire: true,
    seal() {
      const ts = encodeTs(Math.round(fx.now));
      const body = JSON.stringify([{ _requestBody: JSON.stringify(sf.params) }]);
      const sign = md5Hex(`Operation-Type=${sf.op}&Request-Data=${base64Utf8(body)}&Ts=${ts}` + secret);
      const headers = { Version: '2', 'Operation-Type': sf.op, AppId: appId, WorkspaceId: workspaceId, Did: did, Ts: ts, Sign: sign, signType: 'md5', 'Content-Type': 'application/json' };
      return { wire: { path: fx.clientOptions.gatewayPath ?? '/mgw.htm', method: 'POST', headers, body, operationType: sf.op }, state: null };
    },
    open() {
      const status = sf.response.headers['result-status'];
      if (status !== '1000') throw new Error('mgs ' + status);
      return JSON.parse(sf.response.body);
    },
  };
}

/**
 * The app-secret client half as both references write it: each value AES-ECB'd under the
 * appSecret, MD5 of the values in sorted key order + appSecret, then every name and value
 * AES-ECB'd under the publicSecret into a form. `encrypt(text, key)` (key: 'public' | 'app')
 * gives base64, `md5Hex` and `decrypt(base64)` (under the appSecret) are the reference's own.
 */
export function appSecretReference(name, fx, sf, { encrypt, md5Hex, decrypt }) {
  const accessFrom = fx.clientOptions.accessFrom ?? 'h5';
  const { appId, appSecret } = fx.cred;
  // The outer layer's ciphertexts of short public texts (names, appId, accessFrom's inner
  // ciphertext) are kept across calls, as the SDK keeps them (src/profiles/legacy.ts memo:
  // up to 64 characters, never the sign): both sides do the same work per round.
  const memo = new Map();
  const outer = (text, keep) => {
    if (!keep || text.length > 64) return encrypt(text, 'public');
    let c = memo.get(text);
    if (c === undefined) memo.set(text, (c = encrypt(text, 'public')));
    return c;
  };
  return {
    name,
    sameWire: true,
    seal() {
      const m = [['appId', appId]];
      for (const [k, v] of Object.entries(sf.params)) m.push([k, encrypt(v, 'app')]);
      m.push(['accessFrom', encrypt(accessFrom, 'app')]);
      const byKey = Object.fromEntries(m);
      const concat = Object.keys(byKey)
        .sort()
        .map((k) => byKey[k])
        .join('');
      m.push(['sign', md5Hex(concat + appSecret)]);
      const form = new URLSearchParams();
      for (const [k, v] of m) form.append(outer(k, true), outer(v, k !== 'sign'));
      return {
        wire: { path: pathOf(sf.op), method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: form.toString(), operationType: sf.op },
        state: null,
      };
    },
    open() {
      const body = sf.response.body.trim();
      if (body === 'secret_pass_time_error' || body === 'sign_error' || body === 'param_error') throw new Error(body);
      const env = JSON.parse(decrypt(body));
      if (!env.success) throw new Error(env.msg);
      return env.data;
    },
  };
}

/**
 * The sorted-sign client half as both references write it (GET, rule `sorted`, MD5, AES-CBC
 * with iv = key, hex). `md5Hex`, `encryptHex(text)` and `decryptHex(hex)` are the reference's own.
 */
export function sortedSignReference(name, fx, sf, { md5Hex, encryptHex, decryptHex }) {
  const { appId } = fx.clientOptions;
  const rnd = poolRandom(sf.pool);
  return {
    name,
    sameWire: true,
    seal() {
      rnd.reset();
      const timestamp = String(Math.round(fx.now));
      const safeCode = safeCodeFromBytes(rnd.random(8));
      const q = [['timestamp', timestamp], ['safeCode', safeCode], ...Object.entries(sf.params)];
      const sorted = [...q].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      q.push(['signature', md5Hex(joinRaw(sorted))]);
      const query = new URLSearchParams([['appId', appId], ['params', encryptHex(joinRaw(q))]]).toString();
      return { wire: { path: pathOf(sf.op) + '?' + query, method: 'GET', headers: {}, operationType: sf.op }, state: safeCode };
    },
    open(sealed) {
      const body = sf.response.body.trim();
      if (body.startsWith('{')) throw new Error('plain error answer');
      const reply = JSON.parse(decryptHex(body));
      if (reply.safeCode !== sealed.state) throw new Error('safeCode not echoed');
      if (Number(reply.code) !== 0) throw new Error(reply.msg);
      return reply.data;
    },
  };
}
