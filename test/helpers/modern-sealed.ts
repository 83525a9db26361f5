/**
 * A modern gateway driven by hand: credentials issued through the SDK's own issue(), calls
 * sealed here with a chosen x-ts and x-nonce, so tests can send what the client never would.
 */
import { fromBase64UrlStrict, toBase64Url } from '../../src/codec/base64.js';
import { gcmEncrypt, gcmOpen } from '../../src/crypto/aes.js';
import { randomBytes } from '../../src/crypto/provider.js';
import { modern, requestAad, type ModernCredential } from '../../src/profiles/modern.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { modern as modernGateway, type ModernGatewayOptions } from '../../src/server/modern.js';
import { toRequest, toWire } from './in-process.js';
import { signingKey } from './servers.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A gateway with `/echo` (its runs counted) and an issue() that makes credentials from it at a given time. */
export async function sealedSetup(profile: Partial<ModernGatewayOptions>, core: { now?: () => number; operationTimeoutMs?: number } = {}) {
  const key = await signingKey();
  let runs = 0;
  const gateway = createGateway({ profile: modernGateway({ signingKeys: { k1: key.pem }, ...profile }), ...core }).operation('/echo', (p) => (runs++, p));
  const issue = async (now: () => number): Promise<ModernCredential> =>
    (
      await modern({ serverKeys: { k1: key.jwk } }).issue!({
        now,
        random: randomBytes,
        parseJson: JSON.parse,
        send: async (r) => toWire(await gateway.handle(toRequest(r))),
      })
    ).value;
  return { gateway, issue, runs: () => runs };
}

/** A hand-sealed call (an x-nonce of `nonceBytes`, the AAD made with that same text); the answer opened under it when it is a 200. */
export async function sealedCall(gateway: Gateway, cred: ModernCredential, op: string, id: string, params: unknown, ts: number, nonceBytes = 16) {
  const nonce = toBase64Url(randomBytes(nonceBytes));
  const iv = randomBytes(12);
  const tsText = String(ts);
  const body = toBase64Url(iv) + toBase64Url(await gcmEncrypt(cred.reqKey, enc.encode(JSON.stringify({ id, params })), requestAad(cred.appId, op, tsText, nonce), iv));
  const res = await gateway.handle(new Request('http://gw.test' + op, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-app-id': cred.appId, 'x-op': op, 'x-ts': tsText, 'x-nonce': nonce }, body }));
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, envelope: undefined as string | undefined };
  return { status: 200, envelope: dec.decode(await gcmOpen(cred.resKey, fromBase64UrlStrict(text), enc.encode(nonce))) };
}
