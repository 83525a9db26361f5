/**
 * Constant-time comparison in every verifier, client and gateway. A source scan of src/**:
 * every `===` / `!==` / `==` / `!=` (and `.equals`, `Buffer.compare`, `localeCompare`)
 * whose operand is a MAC, signature, digest, tag, hash, echo or safeCode must instead go
 * through constantTimeEqual / constantTimeEqualString (src/codec/bytes.ts). Comparisons
 * with a literal (`sign === undefined`, `k !== 'sign'`), `typeof`, or a public length are
 * not secret-dependent and are allowed. The scanner is tested on snippets first.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, constantTimeEqualString } from '../../src/codec/bytes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

/** Blank out comments, string and template contents, and regex literals, keeping offsets. */
export function stripSource(src: string): string {
  let out = '';
  let i = 0;
  let prevSignificant = '';
  const regexMayStart = () => prevSignificant === '' || /[(,=:[!&|?{};+\-*%<>~^]$/.test(prevSignificant) || /\b(return|typeof|case|in|of|delete|void|throw|new)$/.test(prevSignificant);
  while (i < src.length) {
    const c = src[i];
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      out += ' '.repeat(stop - i);
      i = stop;
      continue;
    }
    if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') j++;
        else if (c === '`' && src[j] === '$' && src[j + 1] === '{') {
          // keep template expressions: they are code
          let depth = 1;
          let k = j + 2;
          while (k < src.length && depth > 0) {
            if (src[k] === '{') depth++;
            else if (src[k] === '}') depth--;
            k++;
          }
          j = k - 1;
        }
        j++;
      }
      out += 'S' + ' '.repeat(Math.max(0, j - i));
      i = j + 1;
      prevSignificant = 'S';
      continue;
    }
    if (c === '/' && regexMayStart()) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n') {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        else if (src[j] === '/' && !inClass) break;
        j++;
      }
      j++;
      while (j < src.length && /[a-z]/.test(src[j])) j++;
      out += 'R' + ' '.repeat(j - i - 1);
      i = j;
      prevSignificant = 'R';
      continue;
    }
    out += c;
    if (!/\s/.test(c)) prevSignificant = /[\w$]/.test(c) ? (/[\w$]/.test(prevSignificant.slice(-1)) ? prevSignificant + c : c) : c;
    i++;
  }
  return out;
}

/** The operand next to a comparison operator: identifiers, member access, calls and indexing, balanced. */
function operand(code: string, from: number, dir: 1 | -1): string {
  let i = from;
  const step = () => (i += dir);
  while (code[i] === ' ') step();
  const start = i;
  const open = dir === 1 ? '([' : ')]';
  const close = dir === 1 ? ')]' : '([';
  let depth = 0;
  if (dir === 1) {
    while (code[i] === '!' || code[i] === '-') step();
    if (code.startsWith('typeof', i)) return 'typeof';
  }
  while (i >= 0 && i < code.length) {
    const ch = code[i];
    if (open.includes(ch)) depth++;
    else if (close.includes(ch)) {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && !/[\w$.?!]/.test(ch)) break;
    step();
  }
  const text = dir === 1 ? code.slice(start, i) : code.slice(i + 1, start + 1);
  if (dir === -1 && /\btypeof\s+$/.test(code.slice(Math.max(0, i - 10), i + 1))) return 'typeof';
  return text.replace(/^[!]+/, '');
}

const SECRETISH = /^(sign|signature|sig|mac|hmac|tag|digest|expected|given|hash|safeCode|echo|(sig|sign|signature|mac|hmac|tag|digest|hash)[A-Z0-9_]\w*|\w*(Sign|Signature|Sig|Mac|Hmac|Tag|Digest|Hash|SafeCode|Echo))$/;
/** Names that contain those words but are configuration, not secret material. */
const NOT_SECRET = /^(signRule|signType|signer|signal|signingKeys|tagLength|digestHex|hashName|digestName)$/;
/** Literals, and constants by convention (`APP_SECRET_ERRORS.sign` is the text "sign_error", not a signature). */
const LITERAL = /^(S|R|-?\d[\d_.e]*|0x[0-9a-fA-F]+|undefined|null|true|false|typeof|NaN|Infinity|[A-Z][A-Z0-9_]*(\.\w+)?)$/;
const PUBLIC_MEMBER = /\.(length|byteLength|size|name|kind|status|code|type|mode|version)$/;

export interface Finding {
  file: string;
  line: number;
  text: string;
}

/** Secret-dependent comparisons done with a plain operator in `source`. */
export function findTimingComparisons(source: string, file = 'snippet'): Finding[] {
  const code = stripSource(source);
  const findings: Finding[] = [];
  const lineOf = (at: number) => code.slice(0, at).split('\n').length;
  const re = /(?<![=!<>])(===|!==|==|!=)(?!=)/g;
  for (let m: RegExpExecArray | null; (m = re.exec(code)); ) {
    const left = operand(code, m.index - 1, -1);
    const right = operand(code, m.index + m[0].length, 1);
    if (LITERAL.test(left) || LITERAL.test(right)) continue;
    if (PUBLIC_MEMBER.test(left) || PUBLIC_MEMBER.test(right)) continue;
    const words = [left, right].flatMap((o) => o.split(/[^\w$]+/)).filter(Boolean);
    if (!words.some((w) => SECRETISH.test(w) && !NOT_SECRET.test(w))) continue;
    findings.push({ file, line: lineOf(m.index), text: source.split('\n')[lineOf(m.index) - 1].trim() });
  }
  const other = /\.equals\(|Buffer\.compare\(|\.localeCompare\(/g;
  for (let m: RegExpExecArray | null; (m = other.exec(code)); ) {
    const lineText = code.split('\n')[lineOf(m.index) - 1];
    if (lineText.split(/[^\w$]+/).some((w) => SECRETISH.test(w) && !NOT_SECRET.test(w))) findings.push({ file, line: lineOf(m.index), text: source.split('\n')[lineOf(m.index) - 1].trim() });
  }
  return findings;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

describe('the scanner itself', () => {
  it('flags secret-dependent plain comparisons and passes the allowed forms', () => {
    const flagged = [
      'if (given === expected) ok();',
      'if (sign.toLowerCase() !== expected.toLowerCase()) fail();',
      'return toHex(mac) == header;',
      'const ok = reply.safeCode === state.safeCode;',
      'if (tag[i] !== computed[i]) return false;',
      'if (Buffer.compare(sigBytes, other) === 0) x();',
      'if (computedDigest != provided) y();',
      'ok = a.signature === b.signature && z;',
    ];
    for (const s of flagged) expect(findTimingComparisons(s), s).toHaveLength(1);
    const allowed = [
      "if (given === undefined) throw e;",
      "if (k === 'sign' || k === 'appId') continue;",
      "if (typeof reply.safeCode !== 'string' || !constantTimeEqualString(reply.safeCode, sealed.state.safeCode)) throw e;",
      'if (sigRaw.length !== 64) throw e;',
      "const url = 'a === sign'; // given === expected",
      '/* sign === expected */ const x = 1;',
      "if (signRule !== 'sorted' && signRule !== 'timestamp-key') throw e;",
      'if (!constantTimeEqual(tag, expectedTag)) throw e;',
      'const re = /sign === expected/; if (re.test(s)) y();',
      'const t = `${sign === undefined ? 1 : 2}`;',
    ];
    for (const s of allowed) expect(findTimingComparisons(s), s).toEqual([]);
  });

  it('constantTimeEqual and constantTimeEqualString agree with plain equality (lengths differ: false)', () => {
    const b = (...x: number[]) => new Uint8Array(x);
    expect(constantTimeEqual(b(1, 2, 3), b(1, 2, 3))).toBe(true);
    expect(constantTimeEqual(b(1, 2, 3), b(1, 2, 4))).toBe(false);
    expect(constantTimeEqual(b(1, 2), b(1, 2, 3))).toBe(false);
    expect(constantTimeEqualString('abc', 'abc')).toBe(true);
    expect(constantTimeEqualString('abc', 'abd')).toBe(false);
    expect(constantTimeEqualString('ab', 'abc')).toBe(false);
    expect(constantTimeEqualString('é', 'é')).toBe(true);
  });
});

describe('the helpers themselves run in time independent of where the inputs differ', () => {
  /** A view that counts the element reads made through it. */
  const counted = (bytes: Uint8Array) => {
    const reads = { n: 0 };
    const view = new Proxy(bytes, {
      get(target, prop) {
        if (typeof prop === 'string' && /^\d+$/.test(prop)) reads.n++;
        return Reflect.get(target, prop);
      },
    });
    return { view, reads };
  };
  /** A string stand-in that counts charCodeAt reads (the helper reads only length and charCodeAt). */
  const countedString = (s: string) => {
    const reads = { n: 0 };
    const view = { length: s.length, charCodeAt: (i: number) => (reads.n++, s.charCodeAt(i)) } as unknown as string;
    return { view, reads };
  };

  it('constantTimeEqual reads every byte of both inputs whether they differ at the first byte, the last, or nowhere', () => {
    const n = 64;
    const base = new Uint8Array(n).map((_, i) => i * 7);
    for (const at of [0, 1, n / 2, n - 1, -1]) {
      const other = base.slice();
      if (at >= 0) other[at] ^= 0x80;
      const a = counted(base.slice());
      const b = counted(other);
      expect(constantTimeEqual(a.view, b.view), `differ at ${at}`).toBe(at < 0);
      expect([a.reads.n, b.reads.n], `differ at ${at}`).toEqual([n, n]);
    }
  });

  it('constantTimeEqualString reads every code unit of both inputs whether they differ at the first, the last, or nowhere', () => {
    const base = 'f3a9c1e07b2d4658'.repeat(4);
    const n = base.length;
    for (const at of [0, 1, n / 2, n - 1, -1]) {
      const other = at < 0 ? base : base.slice(0, at) + (base[at] === 'x' ? 'y' : 'x') + base.slice(at + 1);
      const a = countedString(base);
      const b = countedString(other);
      expect(constantTimeEqualString(a.view, b.view), `differ at ${at}`).toBe(at < 0);
      expect([a.reads.n, b.reads.n], `differ at ${at}`).toEqual([n, n]);
    }
  });
});

describe('constant-time comparison in every verifier', () => {
  it('no MAC, signature, digest, tag, echo or safeCode in src/** is compared with ===, !==, ==, != or .equals (use constantTimeEqual/constantTimeEqualString from src/codec/bytes.ts)', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(30);
    const findings = files.flatMap((f) => findTimingComparisons(readFileSync(f, 'utf8'), relative(ROOT, f)));
    if (findings.length) console.log('timing-unsafe comparisons:\n' + findings.map((f) => `  ${f.file}:${f.line}  ${f.text}`).join('\n'));
    expect(findings).toEqual([]);
  });

  it('every file that checks a signature or an echo itself imports and calls the constant-time helpers', () => {
    // The verifiers that compare values they computed (the others verify inside WebCrypto / noble:
    // AES-GCM tags, ECDSA and RSA signatures, never compared by this code).
    const verifiers = ['src/server/app-secret.ts', 'src/server/sorted-sign.ts', 'src/server/mgs.ts', 'src/profiles/sorted-sign.ts'];
    for (const f of verifiers) {
      const src = readFileSync(join(ROOT, f), 'utf8');
      expect(src, f).toMatch(/import \{[^}]*\bconstantTimeEqual(String)?\b[^}]*\} from '\.\.\/codec\/bytes\.js'/);
      expect(stripSource(src), f).toMatch(/\bconstantTimeEqual(String)?\(/);
    }
  });

  it('the GCM and signature paths leave tag and signature checks to WebCrypto / noble (no hand-written compare in src/crypto)', () => {
    const crypto = sourceFiles(join(SRC, 'crypto')).map((f) => [relative(ROOT, f), stripSource(readFileSync(f, 'utf8'))] as const);
    for (const [f, code] of crypto) {
      // A loop that compares tag bytes one by one would show up as `x[i] !== y[i]` on tag/sig names (scanned above);
      // here: no early-exit byte loops over a tag or signature at all.
      expect(code, f).not.toMatch(/for\s*\([^)]*\)\s*if\s*\(\s*(tag|sig|mac)\w*\[/i);
    }
  });
});
