import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.interfaces.ECPublicKey;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Vectors mode: the §12 vectors from §11's fixed inputs, computed by this Java gateway's own
 * code paths (issue() and call() with a pinned clock and pinned random draws), printed as one
 * JSON object for the test to compare with ../shared/vectors/modern-v1.json.
 */
final class ModernVectors {
  static final String K1_PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgMzMzMzMzMzMzMzMz\nMzMzMzMzMzMzMzMzMzMzMzMzMzOhRANCAARRp1gIM4mOobGDy9c1CkCZB4xu8cHh\njpcM12gwNfJefQEQUicSsLWnz/CBaFSGmEqU5oMe2sRuc2D6nYNKeoGh\n-----END PRIVATE KEY-----\n";
  static final String K1_SPKI = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUadYCDOJjqGxg8vXNQpAmQeMbvHB4Y6XDNdoMDXyXn0BEFInErC1p8/wgWhUhphKlOaDHtrEbnNg+p2DSnqBoQ==";
  static final String K2_SPKI = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWzaJDay9fJqWu3Sh7iiz0tdbcuCaIO8lz45v2KnwNQ0OFL7Y1GgqNNg1OL3/W5bommZm7A21dF0C+hIQBy33Wg==";
  static final String CALL0_PARAMS = "{\"text\":\"héllo \\\"你好\\\" 🌏👍🏽\\n\",\"a\":\"1\",\"n\":42,\"nested\":{\"x\":[1,2.5,true,null]}}";

  static byte[] fill(int from, int n) { byte[] b = new byte[n]; for (int k = 0; k < n; k++) b[k] = (byte) (from + k); return b; }

  static void print(ModernGateway g, String[] vectorSigs) throws Exception {
    Map<String, Object> out = new LinkedHashMap<>();
    ArrayDeque<byte[]> draws = new ArrayDeque<>();
    g.random = n -> {
      byte[] b = draws.poll();
      if (b == null || b.length != n) throw new IllegalStateException("unexpected random draw of " + n);
      return b;
    };

    // Keys: k1 from its PKCS#8 PEM, k2 from its scalar (both forms §2 allows).
    g.signingKeys.put("k1", ModernCrypto.privateFromPem(K1_PEM));
    g.signingKeys.put("k2", ModernCrypto.privateFromScalar(ModernCrypto.hex("44".repeat(32))));
    g.activeKid = "k1";
    // The vectors' operations: /echo answers {...params, serverTime}; /sum exists so that x-op /sum reaches the GCM check.
    g.operations.put("/echo", g.operations.get("/echo-time"));
    g.operations.put("/sum", p -> p);
    byte[] clientRaw = ModernCrypto.publicRawFromScalar(ModernCrypto.hex("11".repeat(32)));
    PrivateKey clientPriv = ModernCrypto.privateFromScalar(ModernCrypto.hex("11".repeat(32)));
    byte[] serverRaw = ModernCrypto.publicRawFromScalar(ModernCrypto.hex("22".repeat(32)));
    g.fixedEphemeral = new KeyPair(ModernCrypto.publicFromRaw(serverRaw), ModernCrypto.privateFromScalar(ModernCrypto.hex("22".repeat(32))));
    out.put("clientPublicRaw", ModernCrypto.b64u(clientRaw));
    out.put("serverPublicRaw", ModernCrypto.b64u(serverRaw));

    // Issuance through issue(): salt 00..1f, then appId bytes a0..af, clock 1700000000000.
    String requestBody = "{\"clientKey\":\"" + ModernCrypto.b64u(clientRaw) + "\"}";
    out.put("issuanceRequestBody", requestBody);
    for (String kid : new String[] { "k1", "k2" }) {
      g.activeKid = kid;
      g.fixedNow = 1700000000000L;
      draws.add(fill(0x00, 32));
      draws.add(fill(0xa0, 16));
      g.credentials.clear();
      ModernGateway.Answer a = g.dispatch(req("POST", "/issue", Map.of(), requestBody));
      String body = new String(a.body, java.nio.charset.StandardCharsets.UTF_8);
      out.put(kid + ".status", a.status);
      out.put(kid + ".responseBody", body);
      @SuppressWarnings("unchecked")
      Map<String, Object> r = (Map<String, Object>) ModernJson.parse(body);
      String message = String.join("\n", "sealed-rpc/v1 issue", (String) r.get("kid"), (String) r.get("appId"), (String) r.get("expiresAt"), (String) r.get("serverTime"),
          ModernCrypto.b64u(clientRaw), (String) r.get("serverKey"), (String) r.get("salt"));
      out.put(kid + ".messageToSign", message);
      out.put(kid + ".messageSha256", ModernCrypto.toHex(ModernCrypto.sha256(ModernCrypto.utf8(message))));
      int which = kid.equals("k1") ? 0 : 1;
      if (vectorSigs.length > which)
        out.put(kid + ".vectorSigVerifies", ModernCrypto.verify(ModernCrypto.publicFromSpki(which == 0 ? K1_SPKI : K2_SPKI), ModernCrypto.utf8(message), ModernCrypto.unb64u(vectorSigs[which], 64)));
      out.put(kid + ".ourSigVerifies", ModernCrypto.verify(ModernCrypto.publicFromSpki(kid.equals("k1") ? K1_SPKI : K2_SPKI), ModernCrypto.utf8(message), ModernCrypto.unb64u((String) r.get("sig"), 64)));
    }
    g.activeKid = "k1";
    ModernGateway.Credential cred = g.credentials.values().iterator().next();
    out.put("reqKeyHex", ModernCrypto.toHex(cred.reqKey()));
    out.put("resKeyHex", ModernCrypto.toHex(cred.resKey()));
    // The client's side of the agreement gives the same Z (and so the same keys).
    byte[] z = ModernCrypto.ecdh(clientPriv, ModernCrypto.publicFromRaw(serverRaw));
    out.put("ZHex", ModernCrypto.toHex(z));
    String appId = cred.appId();

    // calls[0] and calls[1], sealed by Java as a client would, then answered by call().
    String body0 = sealCall(cred, "/echo", "1700000000000", ModernCrypto.b64u(fill(0x40, 16)), "{\"id\":\"" + ModernCrypto.b64u(fill(0xc0, 16)) + "\",\"params\":" + ModernJson.write(ModernJson.parse(CALL0_PARAMS)) + "}", fill(0x50, 12), out, "call0");
    Map<String, String> h0 = Map.of("x-app-id", appId, "x-op", "/echo", "x-ts", "1700000000000", "x-nonce", ModernCrypto.b64u(fill(0x40, 16)));
    g.fixedNow = 1700000000123L;
    draws.add(fill(0x60, 12));
    answer(g, h0, body0, out, "call0");

    String body1 = sealCall(cred, "/fail", "1700000001000", ModernCrypto.b64u(fill(0x70, 16)), "{\"id\":\"" + ModernCrypto.b64u(fill(0xd0, 16)) + "\",\"params\":{}}", fill(0x80, 12), out, "call1");
    Map<String, String> h1 = Map.of("x-app-id", appId, "x-op", "/fail", "x-ts", "1700000001000", "x-nonce", ModernCrypto.b64u(fill(0x70, 16)));
    g.fixedNow = 1700000001005L;
    draws.add(fill(0x90, 12));
    answer(g, h1, body1, out, "call1");

    // calls[0] again at 1700000400000 (outside the window) -> sealed CLOCK_SKEW; at ...200 -> REPLAYED_REQUEST.
    g.fixedNow = 1700000400000L;
    draws.add(fill(0xa0, 12));
    answer(g, h0, body0, out, "clockSkew");
    g.fixedNow = 1700000000200L;
    draws.add(fill(0xb0, 12));
    answer(g, h0, body0, out, "replayed");

    // Plain bodies at 1700000000123.
    g.fixedNow = 1700000000123L;
    for (Object[] p : new Object[][] { { 400, "BAD_REQUEST" }, { 401, "CREDENTIAL_EXPIRED" }, { 403, "SIGNATURE_INVALID" }, { 429, "RATE_LIMITED" }, { 503, "GATEWAY_BUSY" } })
      out.put("plain" + p[0], new String(g.plain((Integer) p[0], (String) p[1]).body, java.nio.charset.StandardCharsets.UTF_8));

    // Negative cases of §12 through call(): one changed character, x-op changed (it is in the AAD).
    g.fixedNow = 1700000000000L;
    char[] c = body0.toCharArray();
    c[40] = c[40] == 'A' ? 'B' : 'A';
    out.put("tamperedStatus", g.dispatch(req("POST", "/echo", h0, new String(c))).status);
    Map<String, String> hOp = new LinkedHashMap<>(h0);
    hOp.put("x-op", "/sum");
    out.put("otherOpStatus", g.dispatch(req("POST", "/echo", hOp, body0)).status);
    if (!draws.isEmpty()) throw new IllegalStateException("random draws left over");
    System.out.println(ModernJson.write(out));
  }

  static ModernGateway.Req req(String method, String path, Map<String, String> headers, String body) {
    Map<String, String> lower = new LinkedHashMap<>();
    headers.forEach((k, v) -> lower.put(k.toLowerCase(), v));
    return new ModernGateway.Req(method, path, h -> lower.get(h.toLowerCase()), () -> ModernCrypto.utf8(body), "127.0.0.1");
  }

  static String sealCall(ModernGateway.Credential cred, String op, String ts, String nonce, String plaintext, byte[] iv, Map<String, Object> out, String name) throws Exception {
    String aad = cred.appId() + "\n" + op + "\n" + ts + "\n" + nonce;
    String body = ModernCrypto.b64u(ModernCrypto.seal(cred.reqKey(), iv, ModernCrypto.utf8(plaintext), ModernCrypto.utf8(aad)));
    out.put(name + ".plaintextJson", plaintext);
    out.put(name + ".aadHex", ModernCrypto.toHex(ModernCrypto.utf8(aad)));
    out.put(name + ".requestBody", body);
    return body;
  }

  static void answer(ModernGateway g, Map<String, String> headers, String body, Map<String, Object> out, String name) throws Exception {
    ModernGateway.Answer a = g.dispatch(req("POST", headers.get("x-op"), headers, body));
    String text = new String(a.body, java.nio.charset.StandardCharsets.UTF_8);
    out.put(name + ".status", a.status);
    out.put(name + ".contentType", a.contentType);
    out.put(name + ".responseBody", text);
    ModernGateway.Credential cred = g.credentials.get(headers.get("x-app-id"));
    byte[] opened = ModernCrypto.open(cred.resKey(), ModernCrypto.unb64u(text, -1), ModernCrypto.utf8(headers.get("x-nonce")));
    out.put(name + ".envelopeJson", opened == null ? null : ModernCrypto.strictUtf8(opened));
  }
}
