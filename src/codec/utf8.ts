const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Strict: invalid UTF-8 throws (a tampered ciphertext must not turn into replacement characters). */
export function utf8Decode(b: Uint8Array): string {
  return decoder.decode(b);
}
