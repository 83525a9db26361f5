/**
 * AES-192 in real Chromium. The legacy dialects allow 24-byte keys, but Chromium's WebCrypto
 * refuses them ("192-bit AES keys are not supported"): such keys must take the noble path.
 * Expected bytes from OpenSSL 3 (`openssl enc -aes-192-cbc|-aes-192-ecb`) and Python
 * `cryptography` (AESGCM), not from this SDK.
 */
import { describe, expect, it } from 'vitest';
import { aesDecrypt, aesEncrypt } from '../../src/crypto/aes.js';
import { fromHex, toHex } from '../../src/codec/hex.js';
import { utf8Decode, utf8Encode } from '../../src/codec/utf8.js';

const KEY = utf8Encode('0123456789abcdef01234567'); // 24 bytes
const IV = utf8Encode('iv-16-bytes-long');
const PLAIN = 'hello AES-192 中文';

describe('AES-192 (24-byte keys) in Chromium', () => {
  it('Chromium WebCrypto itself refuses a 192-bit AES key (why the SDK routes it to noble)', async () => {
    const err = await crypto.subtle.importKey('raw', KEY as BufferSource, { name: 'AES-CBC' }, false, ['encrypt']).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });

  it('AES-192-CBC encrypts to the OpenSSL bytes and decrypts back', async () => {
    const ct = await aesEncrypt('AES-CBC', KEY, utf8Encode(PLAIN), IV);
    expect(toHex(ct)).toBe('d318a1363988047ec0db1bee94efb351a0764757b8a87fa956e958cde5479500');
    expect(utf8Decode(await aesDecrypt('AES-CBC', KEY, ct, IV))).toBe(PLAIN);
  });

  it('AES-192-ECB encrypts to the OpenSSL bytes and decrypts back', async () => {
    const ct = await aesEncrypt('AES-ECB', KEY, utf8Encode(PLAIN));
    expect(toHex(ct)).toBe('37d0f7f22b6cf5bb9570a7da31015ee06a2d17c330f392dbd8f268484375cbb5');
    expect(utf8Decode(await aesDecrypt('AES-ECB', KEY, ct))).toBe(PLAIN);
  });

  it('AES-192-GCM seals to the Python cryptography bytes and opens back', async () => {
    const iv = fromHex('000102030405060708090a0b');
    const sealed = await aesEncrypt('AES-GCM', KEY, utf8Encode(PLAIN), iv);
    expect(toHex(sealed)).toBe('000102030405060708090a0b' + 'c77ece5ff6d201ba4fa522388ba678b05f1faf9307bf3dc1936b5c8d772ef01b1e1ee101');
    expect(utf8Decode(await aesDecrypt('AES-GCM', KEY, sealed))).toBe(PLAIN);
  });
});
