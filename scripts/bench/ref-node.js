/**
 * The floor: each dialect's client half with node:crypto (OpenSSL, native Buffer codecs).
 * Node only. Every dialect is deterministic here under the fixed pool and clock (modern
 * too: same keys, IV and AAD give the same GCM bytes), so the bench asserts byte equality
 * with the SDK for all four.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import { appSecretReference, hexToBytes, mgsReference, pathOf, poolRandom, sortedSignReference } from './util.js';

const aesName = (key, mode) => `aes-${key.length * 8}-${mode}`;

function ecbEnc(text, key) {
  const c = createCipheriv(aesName(key, 'ecb'), key, null);
  return Buffer.concat([c.update(text, 'utf8'), c.final()]).toString('base64');
}
function ecbDec(b64, key) {
  const d = createDecipheriv(aesName(key, 'ecb'), key, null);
  return Buffer.concat([d.update(Buffer.from(b64, 'base64')), d.final()]).toString('utf8');
}

function modernNode(fx, sf) {
  const { appId } = fx.cred;
  const reqKey = Buffer.from(fx.cred.reqKey, 'hex');
  const resKey = Buffer.from(fx.cred.resKey, 'hex');
  const rnd = poolRandom(sf.pool);
  const b64u = (b) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64url');
  return {
    name: 'node',
    sameWire: true,
    seal() {
      rnd.reset();
      const id = b64u(rnd.random(16));
      const nonce = b64u(rnd.random(16));
      const iv = rnd.random(12);
      const ts = String(Math.round(fx.now));
      const op = sf.op;
      const c = createCipheriv('aes-256-gcm', reqKey, iv);
      c.setAAD(Buffer.from(`${appId}\n${op}\n${ts}\n${nonce}`));
      const ct = Buffer.concat([iv, c.update(JSON.stringify({ id, params: sf.params }), 'utf8'), c.final(), c.getAuthTag()]);
      return {
        wire: { path: pathOf(op), method: 'POST', headers: { 'content-type': 'text/plain', 'x-app-id': appId, 'x-op': op, 'x-ts': ts, 'x-nonce': nonce }, body: ct.toString('base64url'), operationType: op },
        state: nonce,
      };
    },
    open(sealed) {
      const all = Buffer.from(sf.response.body.trim(), 'base64url');
      const d = createDecipheriv('aes-256-gcm', resKey, all.subarray(0, 12));
      d.setAAD(Buffer.from(sealed.state));
      d.setAuthTag(all.subarray(all.length - 16));
      const text = Buffer.concat([d.update(all.subarray(12, all.length - 16)), d.final()]).toString('utf8');
      const env = JSON.parse(text);
      if (env.ok !== true) throw new Error('not ok');
      return env.data;
    },
  };
}

/**
 * One ECB cipher per key and direction, kept: ECB carries nothing from block to block, and making
 * a cipher costs ~3 µs, which ~20 short values a round would pay (the SDK expands each key once
 * too). Padding by hand. A long value goes through a fresh cipher instead (no copy to pad): each
 * size takes the faster of the two, so this stays a floor.
 */
const LONG = 512;
function ecbStream(key, decrypt) {
  const c = decrypt ? createDecipheriv(aesName(key, 'ecb'), key, null) : createCipheriv(aesName(key, 'ecb'), key, null);
  c.setAutoPadding(false);
  return c;
}
function padded(text) {
  const n = Buffer.byteLength(text);
  const p = 16 - (n & 15);
  const b = Buffer.allocUnsafe(n + p);
  b.write(text, 0);
  return b.fill(p, n);
}
function appSecretNode(fx, sf) {
  const keys = { public: Buffer.from(fx.clientOptions.publicSecret, 'utf8'), app: Buffer.from(fx.cred.appSecret, 'utf8') };
  const enc = { public: ecbStream(keys.public, false), app: ecbStream(keys.app, false) };
  const dec = ecbStream(keys.app, true);
  return appSecretReference('node', fx, sf, {
    encrypt: (text, key) => (text.length >= LONG ? ecbEnc(text, keys[key]) : enc[key].update(padded(text)).toString('base64')),
    md5Hex: (text) => createHash('md5').update(text).digest('hex'),
    decrypt: (b64) => {
      if (b64.length >= LONG) return ecbDec(b64, keys.app);
      const p = dec.update(Buffer.from(b64, 'base64'));
      const n = p[p.length - 1];
      if (!(n >= 1 && n <= 16) || p.length < n) throw new Error('bad padding');
      return p.subarray(0, p.length - n).toString('utf8');
    },
  });
}

function sortedSignNode(fx, sf) {
  const key = Buffer.from(fx.clientOptions.appKey, 'utf8');
  const iv = key.subarray(0, 16);
  return sortedSignReference('node', fx, sf, {
    md5Hex: (text) => createHash('md5').update(text).digest('hex'),
    encryptHex: (text) => {
      const c = createCipheriv(aesName(key, 'cbc'), key, iv);
      return Buffer.concat([c.update(text, 'utf8'), c.final()]).toString('hex');
    },
    decryptHex: (hex) => {
      const d = createDecipheriv(aesName(key, 'cbc'), key, iv);
      return Buffer.concat([d.update(Buffer.from(hex, 'hex')), d.final()]).toString('utf8');
    },
  });
}

function mgsNode(fx, sf) {
  return mgsReference('node', fx, sf, {
    base64Utf8: (text) => Buffer.from(text, 'utf8').toString('base64'),
    md5Hex: (text) => createHash('md5').update(text).digest('hex'),
  });
}

const FLOORS = { modern: modernNode, 'app-secret': appSecretNode, 'sorted-sign': sortedSignNode, mgs: mgsNode };

/** The node:crypto implementation of a fixture's dialect (an ImplFactory). */
export function nodeImpl(fx, sf) {
  const make = FLOORS[fx.dialect];
  return make ? make(fx, sf) : undefined;
}

export { hexToBytes };
