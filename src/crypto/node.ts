/**
 * node:crypto under the SDK's primitives, for the gateway half (Node only: never imported by
 * the client entry). `useNodeCrypto()` installs it; AES (GCM, CBC, ECB), MD5, SHA-1, SHA-256
 * and HMAC-SHA256 then run synchronously in OpenSSL instead of as WebCrypto thread-pool jobs
 * (Node) or in pure JS (ECB, MD5, SHA-1). Same bytes, same errors: the primitive tests run
 * on it too. Keys stay what they are: a non-extractable CryptoKey is used through the
 * KeyObject inside it (`KeyObject.from`), in process, never exported.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, KeyObject } from 'node:crypto';
import { setNativeEngine, type NativeEngine } from './provider.js';

const keyObjects = new WeakMap<CryptoKey, KeyObject>();

function keyOf(key: CryptoKey | Uint8Array): { k: KeyObject | Uint8Array; bits: number } {
  if (key instanceof Uint8Array) return { k: key, bits: key.length * 8 };
  let k = keyObjects.get(key);
  if (!k) {
    k = KeyObject.from(key);
    keyObjects.set(key, k);
  }
  return { k, bits: (k.symmetricKeySize ?? 0) * 8 };
}

const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

const nodeEngine: NativeEngine = {
  aes(mode, decrypt, key, data, iv, aad) {
    const { k, bits } = keyOf(key);
    const name = `aes-${bits}-${mode}`;
    if (mode === 'gcm') {
      if (decrypt) {
        if (data.length < 16) throw new Error('too short');
        const d = createDecipheriv(name as 'aes-256-gcm', k, iv!, { authTagLength: 16 });
        if (aad) d.setAAD(aad);
        d.setAuthTag(data.subarray(data.length - 16));
        return view(Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]));
      }
      const c = createCipheriv(name as 'aes-256-gcm', k, iv!, { authTagLength: 16 });
      if (aad) c.setAAD(aad);
      return view(Buffer.concat([c.update(data), c.final(), c.getAuthTag()]));
    }
    const c = decrypt ? createDecipheriv(name, k, mode === 'ecb' ? null : iv!) : createCipheriv(name, k, mode === 'ecb' ? null : iv!);
    return view(Buffer.concat([c.update(data), c.final()]));
  },
  ecbBlocks(decrypt, key, data) {
    const c = decrypt ? createDecipheriv(`aes-${key.length * 8}-ecb`, key, null) : createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
    c.setAutoPadding(false);
    return view(Buffer.concat([c.update(data), c.final()]));
  },
  digest(name, data) {
    return view(createHash(name).update(data).digest());
  },
  hmacSha256(key, data) {
    return view(createHmac('sha256', key).update(data).digest());
  },
};

/** Run the SDK's primitives on node:crypto from now on, for every sealed-rpc user in this process. Opt-in: nothing calls it for you; call it once at gateway start. */
export function useNodeCrypto(): void {
  setNativeEngine(nodeEngine);
}
