/**
 * Which engine runs the crypto. WebCrypto where `crypto.subtle` exists; browsers hide it
 * on insecure (http:, file:) pages, which hybrid web views often are, and then the
 * pure-JS noble path runs instead. Read at each use, so a page (or a test) that loses
 * `subtle` is handled without a reload.
 */
import { RpcError } from '../errors.js';
import { loadPure, loadPureEc } from './load-pure.js';

/** @internal */
export function subtle(): SubtleCrypto | undefined {
  return globalThis.crypto?.subtle;
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

/**
 * @internal An app's or operator's own random, checked where it is read: fewer bytes than asked
 * for (or not bytes) would go out as short nonces, IVs or salts without a word.
 */
export function checkedRandom(random: (n: number) => Uint8Array, refuse: (n: number) => Error): (n: number) => Uint8Array {
  return (n) => {
    const bytes = random(n);
    if (!(bytes instanceof Uint8Array) || bytes.length !== n) throw refuse(n);
    return bytes;
  };
}

/** @internal Fails with a typed error where an operation has no pure-JS path (RSA). */
export function requireSubtle(what: string): SubtleCrypto {
  const s = subtle();
  if (!s) throw new RpcError('CRYPTO_UNAVAILABLE', `${what} needs crypto.subtle, which this page does not have`);
  return s;
}

/** @internal A CryptoKey made while crypto.subtle was there, used after it went: no pure-JS path can use it. */
export function keyNeedsSubtle(): RpcError {
  return new RpcError('CRYPTO_UNAVAILABLE', 'this key was made with crypto.subtle, which this page no longer has');
}

/** @internal WebCrypto wants ArrayBuffer-backed views. */
export function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return (b.buffer instanceof ArrayBuffer ? b : new Uint8Array(b)) as Uint8Array<ArrayBuffer>;
}

/**
 * @internal The pure-JS engines, loaded on first use: pages with `crypto.subtle` never load
 * them (they stay out of the bundle a page parses). ESM: Vite puts them in their own chunks
 * (load-pure.ts, `import()`); IIFE: sealed-rpc.fallback.iife.js, a classic script next to
 * sealed-rpc.iife.js (load-pure.iife.ts). One promise each, so the load runs once.
 */
let pureLoad: Promise<typeof import('./pure.js')> | undefined;
let pureEcLoad: Promise<typeof import('./pure-ec.js')> | undefined;
/** A chunk that did not load (network, a CSP) is CRYPTO_UNAVAILABLE, as the IIFE's on-demand file is, not a TypeError a caller reads as bad input. */
function unavailable(e: unknown): RpcError {
  return e instanceof RpcError ? e : new RpcError('CRYPTO_UNAVAILABLE', 'the pure-JS crypto for pages without crypto.subtle could not be loaded', { cause: e });
}
export function pure(): Promise<typeof import('./pure.js')> {
  return (pureLoad ??= loadPure().catch((e: unknown) => {
    pureLoad = undefined; // a failed chunk load may succeed later
    throw unavailable(e);
  }));
}
export function pureEc(): Promise<typeof import('./pure-ec.js')> {
  return (pureEcLoad ??= loadPureEc().catch((e: unknown) => {
    pureEcLoad = undefined;
    throw unavailable(e);
  }));
}

/**
 * @internal A synchronous native engine (node:crypto, see node.ts) that the gateway half may
 * install: Node's WebCrypto runs every call as a thread-pool job, which costs ~6x the CPU of
 * the same node:crypto call on small messages. Not installed, nothing changes.
 */
export interface NativeEngine {
  /** AES with PKCS#7 padding (ECB, CBC) or GCM (16-byte tag appended / expected at the end). Throws when decryption fails. */
  aes(mode: 'ecb' | 'cbc' | 'gcm', decrypt: boolean, key: CryptoKey | Uint8Array, data: Uint8Array, iv?: Uint8Array, aad?: Uint8Array): Uint8Array;
  /** AES-ECB over whole blocks, no padding (`data.length` a multiple of 16): many short messages under one key in one call. */
  ecbBlocks?(decrypt: boolean, key: Uint8Array, data: Uint8Array): Uint8Array;
  digest(name: 'md5' | 'sha1' | 'sha256', data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
}
let nativeEngine: NativeEngine | undefined;
/** @internal */
export function native(): NativeEngine | undefined {
  return nativeEngine;
}
/** @internal Install (or with `undefined` remove) the native engine. */
export function setNativeEngine(engine: NativeEngine | undefined): void {
  nativeEngine = engine;
}

