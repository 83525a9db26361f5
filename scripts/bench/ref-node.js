/**
 * The floor: each dialect's client half with node:crypto (OpenSSL, native Buffer codecs).
 * Node only. Every dialect is deterministic here under the fixed pool and clock (modern
 * too: same keys, IV and AAD give the same GCM bytes), so the bench asserts byte equality
 * with the SDK for all four.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import { hexToBytes, joinRaw, mgsReference, pathOf, poolRandom, safeCodeFromBytes } from './util.js';

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

function appSecretNode(fx, sf) {
  const { publicSecret } = fx.clientOptions;
  const accessFrom = fx.clientOptions.accessFrom ?? 'h5';
  const { appId, appSecret } = fx.cred;
  const pubKey = Buffer.from(publicSecret, 'utf8');
  const appKey = Buffer.from(appSecret, 'utf8');
  return {
    name: 'node',
    sameWire: true,
    seal() {
      const m = [['appId', appId]];
      for (const [k, v] of Object.entries(sf.params)) m.push([k, ecbEnc(v, appKey)]);
      m.push(['accessFrom', ecbEnc(accessFrom, appKey)]);
      const byKey = Object.fromEntries(m);
      const concat = Object.keys(byKey)
        .sort()
        .map((k) => byKey[k])
        .join('');
      m.push(['sign', createHash('md5').update(concat + appSecret).digest('hex')]);
      const form = new URLSearchParams();
      for (const [k, v] of m) form.append(ecbEnc(k, pubKey), ecbEnc(v, pubKey));
      return {
        wire: { path: pathOf(sf.op), method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: form.toString(), operationType: sf.op },
        state: null,
      };
    },
    open() {
      const env = JSON.parse(ecbDec(sf.response.body.trim(), appKey));
      if (!env.success) throw new Error(env.msg);
      return env.data;
    },
  };
}

function sortedSignNode(fx, sf) {
  const { appId, appKey } = fx.clientOptions;
  const key = Buffer.from(appKey, 'utf8');
  const iv = key.subarray(0, 16);
  const rnd = poolRandom(sf.pool);
  return {
    name: 'node',
    sameWire: true,
    seal() {
      rnd.reset();
      const timestamp = String(Math.round(fx.now));
      const safeCode = safeCodeFromBytes(rnd.random(8));
      const q = [['timestamp', timestamp], ['safeCode', safeCode], ...Object.entries(sf.params)];
      const sorted = [...q].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      q.push(['signature', createHash('md5').update(joinRaw(sorted)).digest('hex')]);
      const c = createCipheriv(aesName(key, 'cbc'), key, iv);
      const params = Buffer.concat([c.update(joinRaw(q), 'utf8'), c.final()]).toString('hex');
      const query = new URLSearchParams([['appId', appId], ['params', params]]).toString();
      return { wire: { path: pathOf(sf.op) + '?' + query, method: 'GET', headers: {}, operationType: sf.op }, state: safeCode };
    },
    open(sealed) {
      const d = createDecipheriv(aesName(key, 'cbc'), key, iv);
      const reply = JSON.parse(Buffer.concat([d.update(Buffer.from(sf.response.body.trim(), 'hex')), d.final()]).toString('utf8'));
      if (reply.safeCode !== sealed.state) throw new Error('safeCode not echoed');
      if (Number(reply.code) !== 0) throw new Error(reply.msg);
      return reply.data;
    },
  };
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
