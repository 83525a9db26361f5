/**
 * Every value of the legacy dialects' common options (PROTOCOLS.md "Common options"),
 * written out here rather than imported from src, so a value dropped from the SDK fails
 * the round-trip matrices instead of silently shrinking them.
 */
import type { CipherName, Digest, Encoding, KeyFrom } from '../../src/profiles/legacy.js';

export const CIPHERS: CipherName[] = ['AES-ECB', 'AES-CBC', 'AES-GCM'];
export const KEY_FROMS: KeyFrom[] = ['utf8', 'hex', 'base64', 'md5', 'sha256', 'java-sha1prng'];
export const ENCODINGS: Encoding[] = ['base64', 'hex', 'base64url'];
export const DIGESTS: Digest[] = ['md5', 'sha1', 'sha256', 'hmac-sha256'];
