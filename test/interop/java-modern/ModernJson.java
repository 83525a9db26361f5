import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict, small JSON reader/writer (JDK only). Objects keep their key order (LinkedHashMap,
 * a repeated key keeps its first place and last value, as JSON.parse does); numbers keep their
 * text (Num) so an echo writes back what it read; the writer matches JSON.stringify's compact
 * form (non-ASCII unescaped, lone surrogates as \\uXXXX), which the doc's vectors need.
 */
final class ModernJson {
  static final Object NULL = new Object() { public String toString() { return "null"; } };
  record Num(String text) {}

  static final int MAX_DEPTH = 256;

  private final String s;
  private int i;

  private ModernJson(String s) { this.s = s; }

  static Object parse(String text) {
    ModernJson p = new ModernJson(text);
    p.ws();
    Object v = p.value(0);
    p.ws();
    if (p.i != text.length()) throw new IllegalArgumentException("trailing data");
    return v;
  }

  private void ws() { while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t' || s.charAt(i) == '\n' || s.charAt(i) == '\r')) i++; }

  private Object value(int depth) {
    if (depth > MAX_DEPTH) throw new IllegalArgumentException("too deep");
    if (i >= s.length()) throw new IllegalArgumentException("end of input");
    char c = s.charAt(i);
    switch (c) {
      case '{': {
        i++;
        Map<String, Object> m = new LinkedHashMap<>();
        ws();
        if (peek('}')) { i++; return m; }
        while (true) {
          ws();
          if (!peek('"')) throw new IllegalArgumentException("key");
          String k = string();
          ws();
          expect(':');
          ws();
          m.put(k, value(depth + 1));
          ws();
          if (peek(',')) { i++; continue; }
          expect('}');
          return m;
        }
      }
      case '[': {
        i++;
        List<Object> l = new ArrayList<>();
        ws();
        if (peek(']')) { i++; return l; }
        while (true) {
          ws();
          l.add(value(depth + 1));
          ws();
          if (peek(',')) { i++; continue; }
          expect(']');
          return l;
        }
      }
      case '"': return string();
      case 't': lit("true"); return Boolean.TRUE;
      case 'f': lit("false"); return Boolean.FALSE;
      case 'n': lit("null"); return NULL;
      default: return number();
    }
  }

  private boolean peek(char c) { return i < s.length() && s.charAt(i) == c; }
  private void expect(char c) { if (!peek(c)) throw new IllegalArgumentException("expected " + c); i++; }
  private void lit(String w) { if (!s.startsWith(w, i)) throw new IllegalArgumentException("literal"); i += w.length(); }

  private Num number() {
    int st = i;
    if (peek('-')) i++;
    if (peek('0')) i++;
    else if (i < s.length() && s.charAt(i) >= '1' && s.charAt(i) <= '9') while (i < s.length() && Character.isDigit(s.charAt(i))) i++;
    else throw new IllegalArgumentException("number");
    if (peek('.')) { i++; int d = i; while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++; if (d == i) throw new IllegalArgumentException("fraction"); }
    if (peek('e') || peek('E')) { i++; if (peek('+') || peek('-')) i++; int d = i; while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++; if (d == i) throw new IllegalArgumentException("exponent"); }
    return new Num(s.substring(st, i));
  }

  private String string() {
    expect('"');
    StringBuilder b = new StringBuilder();
    while (true) {
      if (i >= s.length()) throw new IllegalArgumentException("unterminated string");
      char c = s.charAt(i++);
      if (c == '"') return b.toString();
      if (c < 0x20) throw new IllegalArgumentException("control character in string");
      if (c != '\\') { b.append(c); continue; }
      if (i >= s.length()) throw new IllegalArgumentException("escape");
      char e = s.charAt(i++);
      switch (e) {
        case '"': b.append('"'); break;
        case '\\': b.append('\\'); break;
        case '/': b.append('/'); break;
        case 'b': b.append('\b'); break;
        case 'f': b.append('\f'); break;
        case 'n': b.append('\n'); break;
        case 'r': b.append('\r'); break;
        case 't': b.append('\t'); break;
        case 'u':
          if (i + 4 > s.length()) throw new IllegalArgumentException("escape");
          b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
          i += 4;
          break;
        default: throw new IllegalArgumentException("escape");
      }
    }
  }

  /** JSON.stringify's compact form. */
  static String write(Object v) { StringBuilder b = new StringBuilder(); write(v, b); return b.toString(); }

  @SuppressWarnings("unchecked")
  static void write(Object v, StringBuilder b) {
    if (v == null || v == NULL) b.append("null");
    else if (v instanceof String str) quote(str, b);
    else if (v instanceof Num n) b.append(n.text());
    else if (v instanceof Boolean bo) b.append(bo ? "true" : "false");
    else if (v instanceof Number n) b.append(n.toString());
    else if (v instanceof Map<?, ?> m) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<String, Object> e : ((Map<String, Object>) m).entrySet()) {
        if (!first) b.append(',');
        first = false;
        quote(e.getKey(), b);
        b.append(':');
        write(e.getValue(), b);
      }
      b.append('}');
    } else if (v instanceof List<?> l) {
      b.append('[');
      for (int k = 0; k < l.size(); k++) { if (k > 0) b.append(','); write(l.get(k), b); }
      b.append(']');
    } else throw new IllegalArgumentException("not JSON: " + v.getClass());
  }

  static void quote(String str, StringBuilder b) {
    b.append('"');
    for (int k = 0; k < str.length(); k++) {
      char c = str.charAt(k);
      switch (c) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\b': b.append("\\b"); break;
        case '\f': b.append("\\f"); break;
        case '\n': b.append("\\n"); break;
        case '\r': b.append("\\r"); break;
        case '\t': b.append("\\t"); break;
        default:
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else if (Character.isHighSurrogate(c) && k + 1 < str.length() && Character.isLowSurrogate(str.charAt(k + 1))) { b.append(c).append(str.charAt(++k)); }
          else if (Character.isSurrogate(c)) b.append(String.format("\\u%04x", (int) c)); // well-formed JSON.stringify
          else b.append(c);
      }
    }
    b.append('"');
  }

  static String quote(String str) { StringBuilder b = new StringBuilder(); quote(str, b); return b.toString(); }
}
