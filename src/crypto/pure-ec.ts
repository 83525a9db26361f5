/**
 * @internal P-256 in pure JS (@noble/curves): ECDH/ECDSA where `crypto.subtle` is missing,
 * and public-from-private for the gateway's signing key. Loaded with `import()` on first
 * use (see provider.ts `pureEc()`): it is the largest piece of the SDK (~11 KB min+gz).
 */
export { p256 } from '@noble/curves/nist.js';
