/**
 * Push service signatures (PROTOCOLS.md §6): requests to the service are signed with
 * SHA256withRSA in its URL-safe base64 (`signRsaSha256`); its callbacks carry `sign`
 * over the raw POST body, checked here with the service's public key.
 */
import { verifyRsaSha256 } from '../crypto/rsa.js';
import { badConfig } from '../errors.js';

export { signRsaSha256 } from '../crypto/rsa.js';

/**
 * True when `sign` is the service's signature over `body` (the raw POST body text, not
 * a re-serialised JSON). Accepts standard base64, the URL-safe form with padding and
 * unpadded base64url; false for any bad or malformed signature.
 */
export async function verifyPushCallback(body: string | Uint8Array, sign: string, publicKeyPem: string): Promise<boolean> {
  // The signature is over the body's bytes as sent: a body express.json() already parsed cannot be checked.
  if (typeof body !== 'string' && !ArrayBuffer.isView(body) && !((body as unknown) instanceof ArrayBuffer)) throw badConfig('body', 'expected the raw POST body text (e.g. express.text() or the raw buffer), not a parsed object');
  return verifyRsaSha256(body, sign, publicKeyPem);
}
