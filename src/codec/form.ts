/**
 * application/x-www-form-urlencoded and raw `k=v&k=v` joins. "Sorted" is UTF-16 code-unit
 * order, case-sensitive: JavaScript's default sort, Java's String.compareTo.
 */

/** Characters the form serializer writes as they are (WHATWG URL, application/x-www-form-urlencoded). */
const FORM_SAFE = /^[0-9A-Za-z*._-]*$/;
/** What encodeURIComponent leaves alone but the form serializer escapes (space is `+`). */
const URI_ONLY = /%20|[!'()~]/g;
const uriFix = (m: string) => (m === '%20' ? '+' : '%' + m.charCodeAt(0).toString(16).toUpperCase());

/**
 * One name or value exactly as `URLSearchParams#toString` writes it. Same bytes, much
 * faster on long values (Chromium's serializer takes ~40% of a 256 KB sorted-sign round):
 * hex and other safe text passes through; everything else goes through the native
 * encodeURIComponent plus the form serializer's differences. Text with a lone surrogate
 * (which encodeURIComponent refuses and URLSearchParams writes as U+FFFD) takes URLSearchParams.
 */
export function formEncodeComponent(s: string): string {
  if (FORM_SAFE.test(s)) return s;
  try {
    return encodeURIComponent(s).replace(URI_ONLY, uriFix);
  } catch {
    return new URLSearchParams([['', s]]).toString().slice(1);
  }
}

/**
 * Standard base64 text as the form serializer writes it: of its alphabet only `+`, `/` and
 * `=` are escaped. For text known to be base64 (the legacy dialects' ciphertexts), ~1.5×
 * faster than the general path in Chromium on long values; other text is not its input.
 */
export function formEncodeBase64(s: string): string {
  // Short text: encodeURIComponent's fixed cost is lower than two split/join passes, and
  // on base64 it writes exactly what the form serializer does.
  if (s.length < 256) return encodeURIComponent(s);
  // `=` is only padding, at the end: two passes over the text, not three.
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61) end--;
  return s.slice(0, end).split('+').join('%2B').split('/').join('%2F') + '%3D'.repeat(s.length - end);
}

/** `entries` as a form body; `component` writes each name and value (default: any text). */
export function formEncode(entries: Iterable<[string, string]>, component: (s: string) => string = formEncodeComponent): string {
  let out = '';
  for (const [k, v] of entries) out += (out ? '&' : '') + component(k) + '=' + component(v);
  return out;
}

/** Servlet-style decoding: `+` is a space, percent escapes are UTF-8. */
export function formDecode(body: string): [string, string][] {
  // URLSearchParams drops one leading '?' (query-string habit); a form body keeps it.
  return [...new URLSearchParams(body.startsWith('?') ? '?' + body : body)];
}

export function sortedKeys(keys: Iterable<string>): string[] {
  return [...keys].sort();
}

/** `k=v&k=v` with raw values, in the order given (no escaping, as the legacy signers do). */
export function joinRaw(entries: Iterable<[string, string]>): string {
  const out: string[] = [];
  for (const [k, v] of entries) out.push(k + '=' + v);
  return out.join('&');
}
