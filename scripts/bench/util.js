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
