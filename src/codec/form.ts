/**
 * application/x-www-form-urlencoded and raw `k=v&k=v` joins. "Sorted" is UTF-16 code-unit
 * order, case-sensitive: JavaScript's default sort, Java's String.compareTo.
 */

export function formEncode(entries: Iterable<[string, string]>): string {
  const p = new URLSearchParams();
  for (const [k, v] of entries) p.append(k, v);
  return p.toString();
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
