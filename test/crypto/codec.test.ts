// The codec layer: base64 / base64url / hex, form bodies, sort order, constant-time compare.
// Node's Buffer is the independent reference for the encodings.
import { describe, expect, it } from 'vitest';
import {
  concatBytes,
  constantTimeEqual,
  constantTimeEqualString,
  decodeBytes,
  encodeBase64,
  encodeBytes,
  formDecode,
  formEncode,
  formEncodeBase64,
  fromBase64,
  fromBase64Url,
  fromBase64UrlStrict,
  fromHex,
  joinRaw,
  sortedKeys,
  toBase64,
  toBase64Url,
  toHex,
  utf8Decode,
  utf8Encode,
  asciiInto,
  asciiViews,
} from '../../src/codec/index.js';

function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

const bytes = (s: string) => utf8Encode(s);

describe('base64 / base64url / hex', () => {
  it('the JS base64 encoder (used where neither the engine nor Node has a native one) equals Node’s Buffer at every length 0–300, on views at offsets 0–3, both alphabets', () => {
    const whole = random(310);
    for (let n = 0; n <= 300; n++)
      for (const off of [0, 1, 2, 3]) {
        if (off + n > whole.length) continue;
        const b = whole.subarray(off, off + n);
        const ref = Buffer.from(b);
        expect(encodeBase64(b, false), `${n} bytes at ${off}`).toBe(ref.toString('base64'));
        expect(encodeBase64(b, true), `${n} bytes at ${off}`).toBe(ref.toString('base64url'));
        // toBase64 (native or Node's encoder from 48 bytes) gives the same text.
        expect(toBase64(b)).toBe(ref.toString('base64'));
        expect(toBase64Url(b)).toBe(ref.toString('base64url'));
      }
  });

  it('round-trip random bytes of every length 0..100 and match Node Buffer output exactly', () => {
    for (let n = 0; n <= 100; n++) {
      for (let rep = 0; rep < 3; rep++) {
        const b = random(n);
        const ref = Buffer.from(b);
        expect(toBase64(b)).toBe(ref.toString('base64'));
        expect(toBase64Url(b)).toBe(ref.toString('base64url'));
        expect(toHex(b)).toBe(ref.toString('hex'));
        expect(fromBase64(toBase64(b))).toEqual(b);
        expect(fromBase64Url(toBase64Url(b))).toEqual(b);
        expect(fromBase64UrlStrict(toBase64Url(b))).toEqual(b);
        expect(fromHex(toHex(b))).toEqual(b);
        expect(fromHex(toHex(b).toUpperCase())).toEqual(b);
        for (const enc of ['base64', 'base64url', 'hex'] as const) expect(decodeBytes(encodeBytes(b, enc), enc)).toEqual(b);
      }
    }
  });

  it('match the RFC 4648 section 10 test vectors (base64, base64url, base16)', () => {
    const rfc: [string, string, string][] = [
      ['', '', ''],
      ['f', 'Zg==', '66'],
      ['fo', 'Zm8=', '666F'],
      ['foo', 'Zm9v', '666F6F'],
      ['foob', 'Zm9vYg==', '666F6F62'],
      ['fooba', 'Zm9vYmE=', '666F6F6261'],
      ['foobar', 'Zm9vYmFy', '666F6F626172'],
    ];
    for (const [plain, b64, b16] of rfc) {
      expect(toBase64(bytes(plain))).toBe(b64);
      expect(toBase64Url(bytes(plain))).toBe(b64.replace(/=+$/, ''));
      expect(toHex(bytes(plain))).toBe(b16.toLowerCase());
      expect(utf8Decode(fromBase64(b64))).toBe(plain);
      expect(utf8Decode(fromBase64(b64.replace(/=+$/, '')))).toBe(plain); // padding optional on read
      expect(utf8Decode(fromBase64Url(b64))).toBe(plain);
      expect(utf8Decode(fromBase64UrlStrict(b64.replace(/=+$/, '')))).toBe(plain);
      expect(utf8Decode(fromHex(b16))).toBe(plain); // upper case read
      expect(utf8Decode(fromHex(b16.toLowerCase()))).toBe(plain);
    }
  });

  it('base64 uses +/ and base64url uses -_ for the same bytes', () => {
    const b = new Uint8Array([0xfb, 0xff, 0xbf]);
    expect(toBase64(b)).toBe('+/+/');
    expect(toBase64Url(b)).toBe('-_-_');
    expect(fromBase64('+/+/')).toEqual(b);
    expect(fromBase64Url('-_-_')).toEqual(b);
    expect(() => fromBase64('-_-_')).toThrow(TypeError);
    expect(() => fromBase64Url('+/+/')).toThrow(TypeError);
    expect(() => fromBase64UrlStrict('+/+/')).toThrow(TypeError);
  });

  it('base64url strict mode refuses padding and non-canonical trailing bits that the lenient reader accepts', () => {
    expect(() => fromBase64UrlStrict('Zg==')).toThrow(TypeError);
    expect(() => fromBase64UrlStrict('Zm8=')).toThrow(TypeError);
    // 'Zh' and 'Zm9' carry set bits past the last byte: same bytes as 'Zg' / 'Zm8', not canonical.
    expect(() => fromBase64UrlStrict('Zh')).toThrow(TypeError);
    expect(() => fromBase64UrlStrict('Zm9')).toThrow(TypeError);
    expect(fromBase64Url('Zh')).toEqual(bytes('f'));
    expect(fromBase64Url('Zm9')).toEqual(bytes('fo'));
    expect(fromBase64UrlStrict('Zg')).toEqual(bytes('f'));
    expect(fromBase64UrlStrict('Zm8')).toEqual(bytes('fo'));
    // Every non-canonical tail for a 1- and 2-byte value is refused.
    const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < 64; i++) {
      const one = 'Z' + alpha[i];
      const two = 'Zm' + alpha[i];
      if (i % 16 === 0) expect(fromBase64UrlStrict(one)).toHaveLength(1);
      else expect(() => fromBase64UrlStrict(one), one).toThrow(TypeError);
      if (i % 4 === 0) expect(fromBase64UrlStrict(two)).toHaveLength(2);
      else expect(() => fromBase64UrlStrict(two), two).toThrow(TypeError);
    }
  });

  it('bad lengths, bad padding and invalid characters throw TypeError', () => {
    for (const s of ['Z', 'Zm9vY', 'Zg=', 'Zg===', 'Z===', '====', 'Zm9v!', 'Zm 9v', 'Zm9v\n', 'Zg==Zg==', 'Zm9vé', '中文']) {
      expect(() => fromBase64(s), JSON.stringify(s)).toThrow(TypeError);
    }
    for (const s of ['Z', 'Zg=', 'Zm9v!', 'Zm9v+', 'Zm9v/', 'Zm 9v']) {
      expect(() => fromBase64Url(s), JSON.stringify(s)).toThrow(TypeError);
      expect(() => fromBase64UrlStrict(s), JSON.stringify(s)).toThrow(TypeError);
    }
    for (const s of ['0', 'abc', 'zz', '0g', '0x00', '  ', 'é0', '中文']) {
      expect(() => fromHex(s), JSON.stringify(s)).toThrow(TypeError);
    }
  });

  it('hex is written lower case and read in either (or mixed) case', () => {
    expect(toHex(new Uint8Array([0x00, 0x0f, 0xab, 0xcd, 0xef, 0xff]))).toBe('000fabcdefff');
    expect(fromHex('000FaBcDeFFF')).toEqual(new Uint8Array([0x00, 0x0f, 0xab, 0xcd, 0xef, 0xff]));
    expect(fromHex('')).toEqual(new Uint8Array(0));
  });

  it('utf8Encode equals Node’s UTF-8 encoder for ASCII and non-ASCII text of every length 0–300, a non-ASCII character at the start, middle or end, and lone surrogates', () => {
    const inserts = ['é', '中', '😀', '\ud800', '\udfff', '\u007f', '\u0080'];
    for (let n = 0; n <= 300; n++) {
      const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 7) % 95))).join('');
      expect(toHex(utf8Encode(ascii)), `ascii ${n}`).toBe(Buffer.from(ascii, 'utf8').toString('hex'));
      for (const x of inserts)
        for (const at of [0, n >> 1, n]) {
          const s = ascii.slice(0, at) + x + ascii.slice(at);
          expect(toHex(utf8Encode(s)), `${n} with ${JSON.stringify(x)} at ${at}`).toBe(Buffer.from(s, 'utf8').toString('hex'));
        }
    }
  });

  it('asciiInto writes ASCII text of any length into a larger buffer and refuses non-ASCII text or a buffer too small', () => {
    for (const n of [0, 1, 127, 128, 129, 1000]) {
      const s = 'k'.repeat(n);
      const out = new Uint8Array(n + 16).fill(0xaa);
      expect(asciiInto(s, out)).toBe(true);
      expect(toHex(out.subarray(0, n))).toBe(Buffer.from(s).toString('hex'));
      expect(out[n]).toBe(0xaa); // nothing written past the text
      expect(asciiInto(s + 'é', new Uint8Array(n + 16))).toBe(false);
      expect(asciiInto('é' + s, new Uint8Array(2 * n + 16))).toBe(false);
      if (n > 0) expect(asciiInto(s, new Uint8Array(n - 1))).toBe(false);
    }
  });

  it('asciiViews gives each ASCII text’s bytes as adjacent views into one buffer, and undefined when a text is not ASCII', () => {
    const texts = ['', 'a', 'x'.repeat(200), 'base64+/=', '', 'z'.repeat(129)];
    const views = asciiViews(texts)!;
    expect(views.map((v) => Buffer.from(v).toString('latin1'))).toEqual(texts);
    expect(new Set(views.map((v) => v.buffer)).size).toBe(1);
    expect(views.map((v) => v.byteOffset)).toEqual([0, 0, 1, 201, 210, 210]);
    expect(asciiViews([])).toEqual([]);
    for (const bad of ['é', 'ok' + '中', 'y'.repeat(300) + '😀']) expect(asciiViews(['abc', bad])).toBeUndefined();
  });

  it('utf8Decode is strict: invalid UTF-8 throws instead of becoming U+FFFD', () => {
    expect(utf8Decode(bytes('中文 ok'))).toBe('中文 ok');
    expect(() => utf8Decode(new Uint8Array([0xe4, 0xb8]))).toThrow();
    expect(() => utf8Decode(new Uint8Array([0xff]))).toThrow();
  });
});

describe('form bodies, sorting, joins', () => {
  it('formDecode reads + as a space and percent escapes as UTF-8, like a servlet', () => {
    expect(formDecode('a=b+c&d=%2B&e=%E4%B8%AD%E6%96%87&f=')).toEqual([
      ['a', 'b c'],
      ['d', '+'],
      ['e', '中文'],
      ['f', ''],
    ]);
  });

  it("formDecode keeps a leading '?' as part of the first key (a body, not a query string)", () => {
    expect(formDecode('?a=1&b=2')).toEqual([
      ['?a', '1'],
      ['b', '2'],
    ]);
    expect(formDecode('a=1')).toEqual([['a', '1']]);
    expect(formDecode('')).toEqual([]);
  });

  it("formEncode percent-encodes base64's + / = so they survive a form round trip", () => {
    const entries: [string, string][] = [];
    for (let n = 0; n < 40; n++) entries.push([toBase64(random(n % 7)), toBase64(random(n))]);
    // Pure base64 data: no raw + or / on the wire, and each pair has exactly one '='.
    const b64Body = formEncode(entries);
    expect(b64Body).toMatch(/^[A-Za-z0-9%=&]*$/);
    for (const pair of b64Body.split('&')) expect(pair.split('=')).toHaveLength(2);
    expect(formDecode(b64Body)).toEqual(entries);
    entries.push(['+/=', '+/=='], ['space key', 'a b'], ['中', '文&x=y']);
    expect(formDecode(formEncode(entries))).toEqual(entries);
    expect(formEncode([['k', '+/=']])).toBe('k=%2B%2F%3D');
    expect(formEncode([['k', 'a b']])).toBe('k=a+b');
  });

  it('formEncodeBase64 writes base64 text exactly as URLSearchParams does, at every length 0–300 and at 200 KB (short and long paths, 0/1/2 padding characters)', () => {
    const serialize = (s: string) => new URLSearchParams([['', s]]).toString().slice(1);
    for (let n = 0; n <= 300; n++) {
      const b64 = toBase64(random(n));
      expect(formEncodeBase64(b64), `${n} bytes`).toBe(serialize(b64));
    }
    // Many + and / (bytes 0xfb/0xff/0xbf give them), and a long value, with each padding count.
    for (const n of [150_000, 150_001, 150_002]) {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = i % 3 === 0 ? 0xfb : (i * 2654435761) >>> 24;
      const b64 = toBase64(b);
      expect(b64.length).toBeGreaterThanOrEqual(200_000);
      expect(formEncodeBase64(b64)).toBe(serialize(b64));
    }
    expect(formEncodeBase64('+/+/'.repeat(100) + 'ab==')).toBe('%2B%2F%2B%2F'.repeat(100) + 'ab%3D%3D');
  });

  it('sortedKeys is UTF-16 code-unit order, case-sensitive (Java String.compareTo)', () => {
    expect(sortedKeys(['b', 'a', 'Z', 'A', '_', 'aa', 'a1', '中', '1'])).toEqual(['1', 'A', 'Z', '_', 'a', 'a1', 'aa', 'b', '中']);
    // An astral character (surrogate pair, 0xD83D...) sorts before U+FF01 in UTF-16 order,
    // although its code point (U+1F600) is larger.
    expect(sortedKeys(['！', '😀', '中'])).toEqual(['中', '😀', '！']);
    expect(sortedKeys(new Set(['timestamp', 'appId', 'safeCode', 'Sign']))).toEqual(['Sign', 'appId', 'safeCode', 'timestamp']);
  });

  it('joinRaw joins k=v with & in the given order without escaping', () => {
    expect(
      joinRaw([
        ['b', '1+1=2'],
        ['a', '中 文'],
      ]),
    ).toBe('b=1+1=2&a=中 文');
    expect(joinRaw([])).toBe('');
  });
});

describe('bytes', () => {
  it('constantTimeEqual is true only for identical bytes of the same length', () => {
    const a = random(32);
    expect(constantTimeEqual(a, a.slice())).toBe(true);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    for (let i = 0; i < a.length; i++) {
      const b = a.slice();
      b[i] ^= 1 << (i % 8);
      expect(constantTimeEqual(a, b), `byte ${i}`).toBe(false);
    }
    expect(constantTimeEqual(a, a.subarray(0, 31))).toBe(false);
    expect(constantTimeEqual(a, concatBytes(a, new Uint8Array(1)))).toBe(false);
  });

  it('constantTimeEqualString compares UTF-16 code units exactly', () => {
    expect(constantTimeEqualString('abc', 'abc')).toBe(true);
    expect(constantTimeEqualString('', '')).toBe(true);
    expect(constantTimeEqualString('abc', 'abd')).toBe(false);
    expect(constantTimeEqualString('abc', 'ABC')).toBe(false);
    expect(constantTimeEqualString('abc', 'abcd')).toBe(false);
    expect(constantTimeEqualString('中文', '中文')).toBe(true);
    expect(constantTimeEqualString('中文', '中又')).toBe(false);
  });

  it('concatBytes joins in order', () => {
    expect(concatBytes()).toEqual(new Uint8Array(0));
    expect(concatBytes(new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
  });
});
