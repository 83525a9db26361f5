/** A lossless `parseJson` as lossless-json's parse() behaves: every number literal becomes a LosslessNumber (PROTOCOLS "Numbers in responses"). */
export class LosslessNumber {
  constructor(readonly value: string) {}
  toString() {
    return this.value;
  }
}

export const losslessParse = (t: string): unknown =>
  JSON.parse(t.replace(/("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g, (_m, s, n) => s ?? JSON.stringify({ $n: n })), (_k, v) =>
    v && typeof v === 'object' && typeof v.$n === 'string' ? new LosslessNumber(v.$n) : v,
  );
