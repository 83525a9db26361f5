/**
 * The legacy dialects' default ciphers written with node:crypto (OpenSSL) and Node's own
 * decoders, for reference models that must not use the code under test (src/profiles/legacy.ts).
 * The text rules are the ones PROTOCOLS.md gives the client: base64 with optional padding
 * (whitespace from Java's MIME encoders ignored), hex of either case, strict UTF-8.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

export interface NodeLegacyCipher {
  encrypt(text: string): Promise<string>;
  /** The plaintext, or undefined where the client must refuse (bad text, padding or UTF-8). */
  decrypt(text: string): string | undefined;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

function readBase64(text: string): Buffer | undefined {
  const s = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const data = s.replace(/=+$/, '');
  if (data.length !== s.length && s.length % 4 !== 0) return undefined;
  if (data.length % 4 === 1) return undefined;
  return Buffer.from(data, 'base64');
}

function readHex(text: string): Buffer | undefined {
  const s = text.trim();
  return /^(?:[0-9a-fA-F]{2})*$/.test(s) ? Buffer.from(s, 'hex') : undefined;
}

function make(algorithm: string, key: Buffer, iv: Buffer | null, encoding: 'base64' | 'hex'): NodeLegacyCipher {
  return {
    async encrypt(text) {
      const c = createCipheriv(algorithm, key, iv);
      return Buffer.concat([c.update(text, 'utf8'), c.final()]).toString(encoding);
    },
    decrypt(text) {
      const bytes = encoding === 'hex' ? readHex(text) : readBase64(text);
      if (!bytes || bytes.length === 0 || bytes.length % 16 !== 0) return undefined;
      try {
        const d = createDecipheriv(algorithm, key, iv);
        return fatalUtf8.decode(Buffer.concat([d.update(bytes), d.final()]));
      } catch {
        return undefined;
      }
    },
  };
}

/** app-secret's defaults: AES-ECB, key = the secret's UTF-8 bytes, base64. */
export function nodeAppSecretCipher(secret: string): NodeLegacyCipher {
  const key = Buffer.from(secret, 'utf8');
  return make(`aes-${key.length * 8}-ecb`, key, null, 'base64');
}

/** sorted-sign's defaults: AES-CBC with iv = the key's first 16 bytes, key = the secret's UTF-8 bytes, hex. */
export function nodeSortedSignCipher(secret: string): NodeLegacyCipher {
  const key = Buffer.from(secret, 'utf8');
  return make(`aes-${key.length * 8}-cbc`, key, key.subarray(0, 16), 'hex');
}
