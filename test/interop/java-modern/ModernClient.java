import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Client mode: a Java caller written from the doc (§3.4, §4, §6.3) against any `modern` gateway
 * (the test points it at the SDK's Node gateway). One JSON line per step on stdout.
 */
final class ModernClient {
  static final Pattern DIGITS = Pattern.compile("^[0-9]{1,16}$");
  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  static void run(String base, String kid, String spki) throws Exception {
    PublicKey pinned = ModernCrypto.publicFromSpki(spki);
    // Issuance (§3.1, §3.4).
    KeyPair eph = ModernCrypto.ephemeral();
    String clientKey = ModernCrypto.b64u(ModernCrypto.rawPoint((ECPublicKey) eph.getPublic()));
    HttpResponse<String> r = post(base + "/issue", Map.of("Content-Type", "application/json"), "{\"clientKey\":\"" + clientKey + "\"}");
    if (r.statusCode() != 200) throw new IllegalStateException("issuance: HTTP " + r.statusCode() + " " + r.body());
    @SuppressWarnings("unchecked")
    Map<String, Object> iss = (Map<String, Object>) ModernJson.parse(r.body());
    long receivedAt = System.currentTimeMillis();
    if (!kid.equals(iss.get("kid"))) throw new IllegalStateException("kid not pinned");
    String appId = (String) iss.get("appId"), expiresAt = (String) iss.get("expiresAt"), serverTime = (String) iss.get("serverTime");
    String serverKey = (String) iss.get("serverKey"), saltText = (String) iss.get("salt"), sigText = (String) iss.get("sig");
    byte[] serverPoint = ModernCrypto.unb64u(serverKey, 65), salt = ModernCrypto.unb64u(saltText, 32), sig = ModernCrypto.unb64u(sigText, 64);
    if (serverPoint == null || salt == null || sig == null || ModernCrypto.unb64u(appId, 16) == null || !DIGITS.matcher(expiresAt).matches() || !DIGITS.matcher(serverTime).matches())
      throw new IllegalStateException("malformed issuance");
    String message = String.join("\n", "sealed-rpc/v1 issue", kid, appId, expiresAt, serverTime, clientKey, serverKey, saltText);
    boolean verified = ModernCrypto.verify(pinned, ModernCrypto.utf8(message), sig);
    ECPublicKey serverPub = ModernCrypto.publicFromRaw(serverPoint);
    if (!verified || serverPub == null) throw new IllegalStateException("issuance signature invalid");
    byte[] z = ModernCrypto.ecdh(eph.getPrivate(), serverPub);
    byte[] reqKey = ModernCrypto.hkdf32(z, salt, ModernCrypto.utf8("sealed-rpc/v1 req " + appId));
    byte[] resKey = ModernCrypto.hkdf32(z, salt, ModernCrypto.utf8("sealed-rpc/v1 res " + appId));
    long offset = Long.parseLong(serverTime) - receivedAt;
    line("issued", Map.of("signatureVerified", verified, "appIdLength", appId.length()));

    // Calls (§4): echo with non-ASCII text, a business error, a replayed request, a tampered body.
    String params = "{\"text\":\"héllo \\\"你好\\\" 🌏👍🏽\\n\",\"empty\":\"\",\"n\":42}";
    Sent echo = send(base, appId, reqKey, "/echo", offset, "{\"id\":\"" + ModernCrypto.b64u(ModernCrypto.random(16)) + "\",\"params\":" + params + "}");
    line("echo", open(echo, resKey));
    Sent fail = send(base, appId, reqKey, "/fail", offset, "{\"id\":\"" + ModernCrypto.b64u(ModernCrypto.random(16)) + "\",\"params\":{}}");
    line("fail", open(fail, resKey));
    // The same bytes and headers again: the gateway must refuse the nonce.
    HttpResponse<String> again = post(base + "/echo", echo.headers, echo.body);
    line("replay", open(new Sent(echo.headers, echo.body, again), resKey));
    // One character of the body changed: 403 before anything is run.
    Sent fresh = seal(appId, reqKey, "/echo", offset, "{\"id\":\"" + ModernCrypto.b64u(ModernCrypto.random(16)) + "\",\"params\":{}}");
    char[] c = fresh.body.toCharArray();
    c[30] = c[30] == 'A' ? 'B' : 'A';
    HttpResponse<String> tampered = post(base + "/echo", fresh.headers, new String(c));
    line("tampered", Map.of("status", tampered.statusCode(), "body", tampered.body()));
  }

  record Sent(Map<String, String> headers, String body, HttpResponse<String> response) {}

  static Sent seal(String appId, byte[] reqKey, String op, long offset, String plaintext) throws Exception {
    String ts = Long.toString(System.currentTimeMillis() + offset);
    String nonce = ModernCrypto.b64u(ModernCrypto.random(16));
    byte[] aad = ModernCrypto.utf8(appId + "\n" + op + "\n" + ts + "\n" + nonce);
    String body = ModernCrypto.b64u(ModernCrypto.seal(reqKey, ModernCrypto.random(12), ModernCrypto.utf8(plaintext), aad));
    Map<String, String> h = new LinkedHashMap<>();
    h.put("Content-Type", "text/plain");
    h.put("x-app-id", appId);
    h.put("x-op", op);
    h.put("x-ts", ts);
    h.put("x-nonce", nonce);
    return new Sent(h, body, null);
  }

  static Sent send(String base, String appId, byte[] reqKey, String op, long offset, String plaintext) throws Exception {
    Sent s = seal(appId, reqKey, op, offset, plaintext);
    return new Sent(s.headers, s.body, post(base + op, s.headers, s.body));
  }

  static Map<String, Object> open(Sent s, byte[] resKey) throws Exception {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("status", s.response.statusCode());
    m.put("contentType", s.response.headers().firstValue("content-type").orElse(""));
    if (s.response.statusCode() != 200) { m.put("plain", s.response.body()); return m; }
    byte[] body = ModernCrypto.unb64u(s.response.body(), -1);
    byte[] opened = body == null ? null : ModernCrypto.open(resKey, body, ModernCrypto.utf8(s.headers.get("x-nonce")));
    m.put("envelope", opened == null ? null : ModernJson.parse(ModernCrypto.strictUtf8(opened)));
    return m;
  }

  static HttpResponse<String> post(String url, Map<String, String> headers, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(body));
    headers.forEach(b::header);
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static void line(String step, Map<String, Object> data) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("step", step);
    m.putAll(data);
    System.out.println(ModernJson.write(m));
  }
}
