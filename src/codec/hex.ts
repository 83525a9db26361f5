import { asciiString, nativeCtor, nativeProto } from './ascii.js';

const HEX = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]); // 0-9a-f
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) NIBBLE[97 + i] = NIBBLE[65 + i] = 10 + i; // read in either case

/** Lower-case hex, as every dialect writes it. */
export function toHex(b: Uint8Array): string {
  if (nativeProto.toHex && b.length >= 32) return nativeProto.toHex.call(b);
  const out = new Uint8Array(b.length * 2);
  for (let i = 0, o = 0; i < b.length; i++, o += 2) {
    const x = b[i];
    out[o] = HEX[x >>> 4];
    out[o + 1] = HEX[x & 15];
  }
  return asciiString(out);
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0) throw new TypeError('hex: odd length');
  if (nativeCtor.fromHex && s.length >= 64) {
    try {
      return nativeCtor.fromHex(s); // same alphabet (either case), no whitespace; on any refusal the loop below names it
    } catch {
      // fall through
    }
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0, j = 0; i < out.length; i++, j += 2) {
    const c0 = s.charCodeAt(j);
    const c1 = s.charCodeAt(j + 1);
    const hi = c0 < 128 ? NIBBLE[c0] : -1;
    const lo = c1 < 128 ? NIBBLE[c1] : -1;
    if ((hi | lo) < 0) throw new TypeError('hex: invalid character');
    out[i] = (hi << 4) | lo;
  }
  return out;
}
