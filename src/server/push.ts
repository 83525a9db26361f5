/**
 * Push service signatures (PROTOCOLS.md §6): requests to the service are signed with
 * SHA256withRSA in its URL-safe base64 (`signRsaSha256`); its callbacks carry `sign`
 * over the raw POST body, checked here with the service's public key.
 */
import { verifyRsaSha256 } from '../crypto/rsa.js';

export { signRsaSha256 } from '../crypto/rsa.js';

/**
 * True when `sign` is the service's signature over `body` (the raw POST body text, not
 * a re-serialised JSON). Accepts standard base64, the URL-safe form with padding and
 * unpadded base64url; false for any bad or malformed signature.
 */
export function verifyPushCallback(body: string, sign: string, publicKeyPem: string): Promise<boolean> {
  return verifyRsaSha256(body, sign, publicKeyPem);
}
