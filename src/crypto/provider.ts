/**
 * Which engine runs the crypto. WebCrypto where `crypto.subtle` exists; browsers hide it
 * on insecure (http:, file:) pages, which hybrid web views often are, and then the
 * pure-JS noble path runs instead. Read at each use, so a page (or a test) that loses
 * `subtle` is handled without a reload.
 */
import { RpcError } from '../errors.js';

/** @internal */
export function subtle(): SubtleCrypto | undefined {
  return globalThis.crypto?.subtle;
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

/** @internal Fails with a typed error where an operation has no pure-JS path (RSA). */
export function requireSubtle(what: string): SubtleCrypto {
  const s = subtle();
  if (!s) throw new RpcError('CRYPTO_UNAVAILABLE', `${what} needs crypto.subtle, which this page does not have`);
  return s;
}

/** @internal WebCrypto wants ArrayBuffer-backed views. */
export function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return (b.buffer instanceof ArrayBuffer ? b : new Uint8Array(b)) as Uint8Array<ArrayBuffer>;
}
