/**
 * Each dialect's client half written the way teams write it today with crypto-js:
 * `CryptoJS.AES.encrypt(text, CryptoJS.enc.Utf8.parse(key), { mode, padding })`,
 * `CryptoJS.MD5(...).toString()`, WordArrays throughout. Where the dialect is
 * deterministic (app-secret, sorted-sign, mgs) the bench asserts that these produce the
 * SDK's exact bytes before timing them.
 *
 * `modern` cannot be written with crypto-js: it has no AES-GCM (and no ECDH). The
 * reference for it is what crypto-js users build instead for an authenticated channel:
 * AES-256-CBC + HMAC-SHA256 (encrypt-then-MAC) over the same JSON, AAD and nonce, with
 * base64url on the wire. Same work per byte, not the same bytes; its canned answer is
 * made by the same code at setup.
 */
import CryptoJS from 'crypto-js';
import { appSecretReference, mgsReference, pathOf, poolRandom, sortedSignReference } from './util.js';

const WA = (bytes) => CryptoJS.lib.WordArray.create(bytes);
const b64u = (wa) => CryptoJS.enc.Base64url.stringify(wa);

// ---- app-secret: AES-ECB (utf8 key), base64, MD5 sign, two layers ----

function appSecretRef(fx, sf) {
  const keys = { public: CryptoJS.enc.Utf8.parse(fx.clientOptions.publicSecret), app: CryptoJS.enc.Utf8.parse(fx.cred.appSecret) };
  const ecb = { mode: CryptoJS.mode.ECB, padding: CryptoJS.pad.Pkcs7 };
  return appSecretReference('crypto-js', fx, sf, {
    encrypt: (text, key) => CryptoJS.AES.encrypt(text, keys[key], ecb).toString(),
    md5Hex: (text) => CryptoJS.MD5(text).toString(),
    decrypt: (b64) => CryptoJS.AES.decrypt(b64, keys.app, ecb).toString(CryptoJS.enc.Utf8),
  });
}

// ---- sorted-sign: timestamp + safeCode, MD5 over the sorted join, AES-CBC (iv = key), hex ----

function sortedSignRef(fx, sf) {
  const key = CryptoJS.enc.Utf8.parse(fx.clientOptions.appKey);
  const cbc = { iv: key, mode: CryptoJS.mode.CBC, padding: CryptoJS.pad.Pkcs7 };
  return sortedSignReference('crypto-js', fx, sf, {
    md5Hex: (text) => CryptoJS.MD5(text).toString(),
    encryptHex: (text) => CryptoJS.AES.encrypt(text, key, cbc).ciphertext.toString(CryptoJS.enc.Hex),
    decryptHex: (hex) => CryptoJS.AES.decrypt(CryptoJS.lib.CipherParams.create({ ciphertext: CryptoJS.enc.Hex.parse(hex) }), key, cbc).toString(CryptoJS.enc.Utf8),
  });
}

// ---- mgs: MD5(Operation-Type=…&Request-Data=base64(body)&Ts=… + secret), plain JSON ----

function mgsRef(fx, sf) {
  return mgsReference('crypto-js', fx, sf, {
    base64Utf8: (text) => CryptoJS.enc.Base64.stringify(CryptoJS.enc.Utf8.parse(text)),
    md5Hex: (text) => CryptoJS.MD5(text).toString(),
  });
}

// ---- modern: crypto-js has no GCM; AES-256-CBC + HMAC-SHA256 over the same fields ----

function modernRef(fx, sf) {
  const { appId } = fx.cred;
  const key = (hex) => CryptoJS.enc.Hex.parse(hex);
  const reqEnc = key(fx.cred.reqKey);
  const resEnc = key(fx.cred.resKey);
  const reqMac = CryptoJS.SHA256(reqEnc);
  const resMac = CryptoJS.SHA256(resEnc);
  const rnd = poolRandom(sf.pool);
  const cbc = (iv) => ({ iv, mode: CryptoJS.mode.CBC, padding: CryptoJS.pad.Pkcs7 });

  function sealText(text, encKey, macKey, aad, iv) {
    const ct = CryptoJS.AES.encrypt(text, encKey, cbc(iv)).ciphertext;
    const mac = CryptoJS.HmacSHA256(CryptoJS.enc.Utf8.parse(aad).concat(iv).concat(ct), macKey);
    return b64u(iv.clone().concat(ct).concat(mac));
  }
  function openText(body, encKey, macKey, aad) {
    const all = CryptoJS.enc.Base64url.parse(body);
    const words = all.words;
    const n = all.sigBytes;
    if (n < 64 || n % 16 !== 0) throw new Error('bad length');
    const iv = CryptoJS.lib.WordArray.create(words.slice(0, 4), 16);
    const ct = CryptoJS.lib.WordArray.create(words.slice(4, (n - 32) / 4), n - 48);
    const mac = CryptoJS.lib.WordArray.create(words.slice((n - 32) / 4, n / 4), 32);
    const expected = CryptoJS.HmacSHA256(CryptoJS.enc.Utf8.parse(aad).concat(iv).concat(ct), macKey);
    if (expected.toString() !== mac.toString()) throw new Error('tampered');
    return CryptoJS.AES.decrypt(CryptoJS.lib.CipherParams.create({ ciphertext: ct }), encKey, cbc(iv)).toString(CryptoJS.enc.Utf8);
  }

  // The canned answer, made once by the same code: the gateway's envelope, sealed to the request's nonce.
  rnd.reset();
  rnd.random(16);
  const cannedNonce = b64u(WA(rnd.random(16)));
  const envelope = JSON.stringify({ ok: true, data: sf.params });
  const canned = sealText(envelope, resEnc, resMac, cannedNonce, WA(rnd.random(16)));

  return {
    name: 'crypto-js',
    sameWire: false,
    note: 'AES-CBC+HMAC (crypto-js has no GCM)',
    seal() {
      rnd.reset();
      const id = b64u(WA(rnd.random(16)));
      const nonce = b64u(WA(rnd.random(16)));
      const iv = WA(rnd.random(16));
      const ts = String(Math.round(fx.now));
      const op = sf.op;
      const body = sealText(JSON.stringify({ id, params: sf.params }), reqEnc, reqMac, `${appId}\n${op}\n${ts}\n${nonce}`, iv);
      return {
        wire: { path: pathOf(op), method: 'POST', headers: { 'content-type': 'text/plain', 'x-app-id': appId, 'x-op': op, 'x-ts': ts, 'x-nonce': nonce }, body, operationType: op },
        state: nonce,
      };
    },
    open(sealed) {
      const env = JSON.parse(openText(canned, resEnc, resMac, sealed.state));
      if (env.ok !== true) throw new Error('not ok');
      return env.data;
    },
  };
}

const REFS = { modern: modernRef, 'app-secret': appSecretRef, 'sorted-sign': sortedSignRef, mgs: mgsRef };

/** The crypto-js implementation of a fixture's dialect (an ImplFactory). */
export function cryptoJsImpl(fx, sf) {
  const make = REFS[fx.dialect];
  return make ? make(fx, sf) : undefined;
}
