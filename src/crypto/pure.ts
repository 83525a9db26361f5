/**
 * @internal The pure-JS engines for what WebCrypto does where it exists: AES-GCM/CBC,
 * SHA-256, HMAC, HKDF. Loaded with `import()` on first use, so pages that have
 * `crypto.subtle` never download or parse them (see provider.ts `pure()`).
 */
export { cbc, gcm } from '@noble/ciphers/aes.js';
export { sha256 } from '@noble/hashes/sha2.js';
export { hmac } from '@noble/hashes/hmac.js';
export { hkdf } from '@noble/hashes/hkdf.js';
