import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.interfaces.ECPublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * A `modern` gateway written from docs/modern-protocol.md (and PROTOCOLS.md §4) alone, JDK 17
 * only, as a Java back-end team would. Modes:
 *   serve [--key kid=hexScalar]... [--admin]   HTTP on 127.0.0.1, port 0; prints "PORT n"
 *   vectors                                     the §12 vectors from the §11 fixed inputs, key=value lines
 *   client <baseUrl> <kid> <spkiBase64>         a Java client against a gateway, one JSON line per step
 * With --admin, GET /__admin?clock=<ms>&ttl=<ms>&mistake=<name>&expire=1&reset=1 changes the
 * clock offset or credential TTL, drops every credential, resets the counters, or switches on
 * one deliberate mistake a Java team might make, and answers the counters (test only):
 *   issuance: der (SHA256withECDSA), bigint-point (toByteArray coordinates), number-times
 *             (JSON numbers), trailing-newline (signed text), issuance-padded (salt padded),
 *             salt-text (HKDF salt = the b64u text)
 *   answers:  tag-first, iv-16, res-reqkey, res-aad-full (request AAD), padded, std-b64,
 *             json-string (quoted, application/json), content-type (application/json only),
 *             plain-skew (CLOCK_SKEW as plain 400), tamper (a bit flipped), replay-response
 *             (the previous answer again)
 */
public final class ModernGateway {
  static final Pattern DIGITS = Pattern.compile("^[0-9]{1,16}$");
  static final Pattern KID = Pattern.compile("^[A-Za-z0-9._-]{1,64}$");

  // ---- options (§9 defaults)
  long credentialTtlMs = 3_600_000, windowMs = 300_000, operationTimeoutMs = 30_000;
  int maxNonces = 100_000, maxCredentials = 10_000, issuesPerMinute = 120, callsPerMinute = 30_000, maxRequestIds = 100_000;
  long maxStoredBytes = 33_554_432, maxBodyBytes = 1_048_576;
  String issuePath = "/issue";
  final Map<String, PrivateKey> signingKeys = new LinkedHashMap<>();
  String activeKid;
  volatile long clockOffset = 0;
  /** A deliberate mistake a Java team might make (admin switch), or "" for none. */
  volatile String mistake = "";

  /** Vectors mode pins the clock and the random draws (§11's fixed inputs). */
  volatile Long fixedNow = null;
  java.util.function.IntFunction<byte[]> random = ModernCrypto::random;
  KeyPair fixedEphemeral = null;

  long now() { Long f = fixedNow; return f != null ? f : System.currentTimeMillis() + clockOffset; }

  /** One request, whatever carried it: HTTP here, the vectors' fixed requests in vectors mode. */
  interface BodyReader { byte[] read() throws Exception; }
  record Req(String method, String path, java.util.function.Function<String, String> header, BodyReader body, String address) {}

  // ---- state; one lock: this is a reference, not a fast gateway
  record Credential(String appId, long expiresAt, byte[] reqKey, byte[] resKey) {}
  static final class Window { long start; int count; }
  static final class Stored { String binding; long until; CompletableFuture<String> envelope = new CompletableFuture<>(); long bytes; }

  final Object lock = new Object();
  final Map<String, Credential> credentials = new HashMap<>();
  final Map<String, Window> issueRate = new HashMap<>();
  final Map<String, Window> callRate = new HashMap<>();
  final Map<String, Map<String, Long>> nonces = new HashMap<>(); // appId -> nonce -> keep until
  final Map<String, Stored> requestIds = new HashMap<>();
  long lastNonceSweep = 0;
  final Map<String, Integer> counters = new LinkedHashMap<>();
  final ExecutorService ops = Executors.newCachedThreadPool(r -> { Thread t = new Thread(r); t.setDaemon(true); return t; });

  void count(String what) { synchronized (lock) { counters.merge(what, 1, Integer::sum); } }

  /** An operation's business error (§6.1): sealed {"ok":false,...}. */
  static final class OpError extends RuntimeException {
    final String code;
    OpError(String code, String message) { super(message); this.code = code; }
  }

  interface Op { Object run(Map<String, Object> params) throws Exception; }
  final Map<String, Op> operations = new LinkedHashMap<>();

  ModernGateway() {
    operations.put("/echo", p -> p);
    // The vectors' echo: {...params, serverTime}.
    operations.put("/echo-time", p -> { Map<String, Object> m = new LinkedHashMap<>(p); m.put("serverTime", Long.toString(now())); return m; });
    operations.put("/fail", p -> { throw new OpError("E_DEMO", "demo failure"); });
    operations.put("/count", p -> { count("runs"); synchronized (lock) { return Map.of("runs", new ModernJson.Num(Integer.toString(counters.get("runs")))); } });
    operations.put("/reserved", p -> { throw new OpError("CLOCK_SKEW", "an operation may not use a protocol code"); });
    operations.put("/boom", p -> { throw new IllegalStateException("secret detail that must not leak"); });
    operations.put("/nothing", p -> null);
  }

  // ================================================================ HTTP

  static final class Answer {
    final int status; final String contentType; final byte[] body;
    Answer(int status, String contentType, String body) { this.status = status; this.contentType = contentType; this.body = ModernCrypto.utf8(body); }
  }

  /** §6.2: plain, unauthenticated. */
  Answer plain(int status, String code) {
    count("plain " + status + " " + code);
    return new Answer(status, "application/json", "{\"error\":" + ModernJson.quote(code) + ",\"serverTime\":\"" + now() + "\"}");
  }

  void handle(HttpExchange ex) {
    Answer a;
    try {
      a = dispatch(ex);
    } catch (Throwable t) {
      // Never a stack trace on the wire (§5: 500 INTERNAL); stderr is for the test's diagnostics.
      System.err.println("internal: " + t);
      a = plain(500, "INTERNAL");
    }
    try {
      ex.getResponseHeaders().set("Content-Type", a.contentType);
      ex.sendResponseHeaders(a.status, a.body.length == 0 ? -1 : a.body.length);
      try (OutputStream o = ex.getResponseBody()) { o.write(a.body); }
    } catch (Exception ignored) {
    } finally { ex.close(); }
  }

  Answer dispatch(HttpExchange ex) throws Exception {
    if (admin && ex.getRequestURI().getPath().equals("/__admin")) return admin(ex.getRequestURI().getRawQuery());
    return dispatch(new Req(ex.getRequestMethod(), ex.getRequestURI().getPath(), h -> ex.getRequestHeaders().getFirst(h), () -> readBody(ex),
        ex.getRemoteAddress().getAddress().getHostAddress()));
  }

  Answer dispatch(Req ex) throws Exception {
    String method = ex.method();
    String path = ex.path();
    String op = ex.header().apply("x-op");
    if (op == null) {
      // Dispatch (§5): no x-op -> issuance at issuePath, 405 for another method there, else 400.
      if (!path.equals(issuePath)) return plain(400, "BAD_REQUEST");
      if (!method.equals("POST")) return plain(405, "BAD_REQUEST");
      return issue(ex);
    }
    // §5: with x-op, not POST -> 400, or 404 when x-op names no operation.
    if (!operations.containsKey(op)) return plain(404, "NOT_FOUND");
    if (!method.equals("POST")) return plain(400, "BAD_REQUEST");
    return call(ex, op);
  }

  /**
   * The body, or null past maxBodyBytes (declared or counted). A refused body is still read
   * and dropped (up to 8 MiB): answering 413 in the middle of an upload resets the connection,
   * and the client then sees a network error instead of the 413.
   */
  byte[] readBody(HttpExchange ex) throws Exception {
    String declared = ex.getRequestHeaders().getFirst("Content-Length");
    boolean tooLarge = false;
    if (declared != null) {
      try { tooLarge = Long.parseLong(declared.trim()) > maxBodyBytes; } catch (NumberFormatException e) { tooLarge = true; }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[16384];
    long total = 0;
    try (InputStream in = ex.getRequestBody()) {
      int n;
      while ((n = in.read(buf)) > 0 && total < 8L * 1024 * 1024) {
        total += n;
        if (total > maxBodyBytes) tooLarge = true;
        if (!tooLarge) out.write(buf, 0, n);
      }
    }
    return tooLarge ? null : out.toByteArray();
  }

  boolean overRate(Map<String, Window> table, String key, int limit) {
    long t = now();
    Window w = table.computeIfAbsent(key, k -> new Window());
    if (t - w.start >= 60_000) { w.start = t; w.count = 0; }
    return ++w.count > limit;
  }

  // ================================================================ issuance (§3)

  Answer issue(Req ex) throws Exception {
    String address = ex.address();
    synchronized (lock) {
      // Step 1, before the body is read: rate per address, or the table full after dropping expired.
      long t = now();
      credentials.values().removeIf(c -> c.expiresAt() <= t);
      if (overRate(issueRate, address, issuesPerMinute) || credentials.size() >= maxCredentials) return plain(429, "RATE_LIMITED");
    }
    byte[] body = ex.body().read();
    if (body == null) return plain(413, "BODY_TOO_LARGE");
    String clientKey;
    ECPublicKey clientPub;
    try {
      Object parsed = ModernJson.parse(ModernCrypto.strictUtf8(body));
      if (!(parsed instanceof Map<?, ?> m) || !(m.get("clientKey") instanceof String ck)) return plain(400, "BAD_REQUEST");
      clientKey = ck;
      clientPub = ModernCrypto.publicFromRaw(ModernCrypto.unb64u(clientKey, 65));
      if (clientPub == null) return plain(400, "BAD_REQUEST");
    } catch (CharacterCodingException | IllegalArgumentException e) { return plain(400, "BAD_REQUEST"); }

    PrivateKey signer = signingKeys.get(activeKid);
    if (signer == null) return plain(500, "INTERNAL");
    KeyPair eph = fixedEphemeral != null ? fixedEphemeral : ModernCrypto.ephemeral();
    if (mistake.equals("bigint-point")) {
      // The mistake shows only when X has a sign byte; draw until it does (half of all keys).
      while (((ECPublicKey) eph.getPublic()).getW().getAffineX().toByteArray().length == 32) eph = ModernCrypto.ephemeral();
    }
    byte[] salt = random.apply(32);
    byte[] appIdBytes = random.apply(16);
    String appId = ModernCrypto.b64u(appIdBytes);
    byte[] z = ModernCrypto.ecdh(eph.getPrivate(), clientPub);
    byte[] hkdfSalt = mistake.equals("salt-text") ? ModernCrypto.utf8(ModernCrypto.b64u(salt)) : salt;
    byte[] reqKey = ModernCrypto.hkdf32(z, hkdfSalt, ModernCrypto.utf8("sealed-rpc/v1 req " + appId));
    byte[] resKey = ModernCrypto.hkdf32(z, hkdfSalt, ModernCrypto.utf8("sealed-rpc/v1 res " + appId));
    Arrays.fill(z, (byte) 0);
    long t = now();
    String serverTime = Long.toString(t), expiresAt = Long.toString(t + credentialTtlMs);
    ECPublicKey ephPub = (ECPublicKey) eph.getPublic();
    String serverKey = mistake.equals("bigint-point")
        ? ModernCrypto.b64u(ModernCrypto.concat(new byte[] { 4 }, ephPub.getW().getAffineX().toByteArray(), ephPub.getW().getAffineY().toByteArray()))
        : ModernCrypto.b64u(ModernCrypto.rawPoint(ephPub));
    String saltText = mistake.equals("issuance-padded") ? Base64.getUrlEncoder().encodeToString(salt) : ModernCrypto.b64u(salt);
    String message = String.join("\n", "sealed-rpc/v1 issue", activeKid, appId, expiresAt, serverTime, clientKey, serverKey, saltText);
    if (mistake.equals("trailing-newline")) message += "\n";
    String sig = ModernCrypto.b64u(ModernCrypto.sign(signer, ModernCrypto.utf8(message), mistake.equals("der")));
    synchronized (lock) { credentials.put(appId, new Credential(appId, t + credentialTtlMs, reqKey, resKey)); }
    count("issuances");
    String times = mistake.equals("number-times")
        ? "\"expiresAt\":" + expiresAt + ",\"serverTime\":" + serverTime
        : "\"expiresAt\":\"" + expiresAt + "\",\"serverTime\":\"" + serverTime + "\"";
    return new Answer(200, "application/json", "{\"kid\":" + ModernJson.quote(activeKid) + ",\"appId\":\"" + appId + "\"," + times
        + ",\"serverKey\":\"" + serverKey + "\",\"salt\":\"" + saltText + "\",\"sig\":\"" + sig + "\"}");
  }

  // ================================================================ calls (§4, §5)

  String lastSealed = null; // for the "replay-response" mistake

  Answer call(Req ex, String op) throws Exception {
    // Step 2: size, then UTF-8.
    byte[] raw = ex.body().read();
    if (raw == null) return plain(413, "BODY_TOO_LARGE");
    String bodyText;
    try { bodyText = ModernCrypto.strictUtf8(raw); } catch (CharacterCodingException e) { return plain(400, "BAD_REQUEST"); }
    // Step 3: headers and encodings.
    String appId = ex.header().apply("x-app-id");
    String ts = ex.header().apply("x-ts");
    String nonce = ex.header().apply("x-nonce");
    if (appId == null || appId.isEmpty() || ts == null || nonce == null || !DIGITS.matcher(ts).matches() || ModernCrypto.unb64u(nonce, 16) == null) return plain(400, "BAD_REQUEST");
    byte[] body = ModernCrypto.unb64u(bodyText, -1);
    if (body == null) return plain(400, "BAD_REQUEST");
    // Step 4: credential.
    Credential cred;
    synchronized (lock) { cred = credentials.get(appId); }
    if (cred == null || cred.expiresAt() <= now()) return plain(401, "CREDENTIAL_EXPIRED");
    // Step 5: open under reqKey with AAD = appId \n op \n ts \n nonce (the wire texts).
    byte[] aad = ModernCrypto.utf8(appId + "\n" + op + "\n" + ts + "\n" + nonce);
    byte[] plaintext = ModernCrypto.open(cred.reqKey(), body, aad);
    if (plaintext == null) return plain(403, "SIGNATURE_INVALID");
    // Step 6: {"id": 1..128 UTF-16 units, "params": ...}. Java's String.length() counts UTF-16 units, as JavaScript does.
    String id;
    Object params;
    try {
      Object parsed = ModernJson.parse(ModernCrypto.strictUtf8(plaintext));
      if (!(parsed instanceof Map<?, ?> m) || !(m.get("id") instanceof String i) || i.isEmpty() || i.length() > 128 || !m.containsKey("params")) return plain(400, "BAD_REQUEST");
      id = i;
      params = m.get("params");
    } catch (CharacterCodingException | IllegalArgumentException e) { return plain(400, "BAD_REQUEST"); }
    long t = now();
    long tsValue = Long.parseLong(ts);
    synchronized (lock) {
      // Step 7: per-credential call rate.
      if (overRate(callRate, appId, callsPerMinute)) return plain(429, "RATE_LIMITED");
      Map<String, Long> seen = nonces.computeIfAbsent(appId, k -> new HashMap<>());
      sweepNonces(t);
      // Step 8: the clock window, sealed. A request stamped ahead keeps its nonce so a later copy is a replay.
      if (Math.abs(t - tsValue) > windowMs) {
        if (tsValue > t) {
          Long until = Math.min(tsValue + windowMs, cred.expiresAt()) + 1;
          if (!seen.containsKey(nonce)) {
            if (seen.size() >= maxNonces / 8) return plain(429, "RATE_LIMITED");
            if (totalNonces() >= maxNonces) return plain(503, "GATEWAY_BUSY");
          }
          seen.merge(nonce, until, Math::max);
        }
        if (mistake.equals("plain-skew")) return plain(400, "CLOCK_SKEW");
        return sealed(cred, nonce, aad, error("CLOCK_SKEW", "x-ts is outside the window", t));
      }
      // Step 9: replay.
      Long keep = seen.get(nonce);
      if (keep != null && keep > t) return sealed(cred, nonce, aad, error("REPLAYED_REQUEST", "nonce already used", t));
      if (seen.size() >= maxNonces / 8) return plain(429, "RATE_LIMITED");
      if (totalNonces() >= maxNonces) return plain(503, "GATEWAY_BUSY");
      seen.put(nonce, t + 2 * windowMs + 1);
    }
    // Steps 10-14: request ids, global, bound to SHA-256(op \n JSON(params)).
    String binding = ModernCrypto.toHex(ModernCrypto.sha256(ModernCrypto.utf8(op + "\n" + ModernJson.write(params))));
    Stored stored;
    boolean mine = false;
    synchronized (lock) {
      requestIds.values().removeIf(s -> s.until <= t && s.envelope.isDone());
      stored = requestIds.get(id);
      if (stored != null && !stored.binding.equals(binding)) return sealed(cred, nonce, aad, error("REQUEST_ID_REUSED", "request id already used for another call", t));
      if (stored == null) {
        if (requestIds.size() >= maxRequestIds) return plain(503, "GATEWAY_BUSY");
        stored = new Stored();
        stored.binding = binding;
        stored.until = t + 2 * windowMs + 1;
        requestIds.put(id, stored);
        mine = true;
      }
    }
    if (mine) {
      final Stored s = stored;
      final Object p = params;
      ops.submit(() -> s.envelope.complete(run(op, p)));
      count("calls " + op);
    }
    String envelope;
    try {
      envelope = stored.envelope.get(operationTimeoutMs, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) { return plain(503, "GATEWAY_BUSY"); }
    return sealed(cred, nonce, aad, envelope);
  }

  long totalNonces() { long n = 0; for (Map<String, Long> m : nonces.values()) n += m.size(); return n; }

  void sweepNonces(long t) {
    if (t - lastNonceSweep < 1000) return;
    lastNonceSweep = t;
    for (Map<String, Long> m : nonces.values()) m.values().removeIf(until -> until <= t);
  }

  /** Runs an operation and makes its envelope (§6.1). */
  @SuppressWarnings("unchecked")
  String run(String op, Object params) {
    try {
      if (!(params instanceof Map)) throw new OpError("E_PARAMS", "params must be an object");
      Object data = operations.get(op).run((Map<String, Object>) params);
      return "{\"ok\":true,\"data\":" + ModernJson.write(data) + "}";
    } catch (OpError e) {
      boolean reserved = e.code.equals("CLOCK_SKEW") || e.code.equals("REPLAYED_REQUEST") || e.code.equals("REQUEST_ID_REUSED");
      return reserved ? error("INTERNAL", "the operation failed", now()) : error(e.code, e.getMessage(), now());
    } catch (Throwable e) {
      return error("INTERNAL", "the operation failed", now());
    }
  }

  static String error(String code, String message, long serverTime) {
    return "{\"ok\":false,\"error\":{\"code\":" + ModernJson.quote(code) + ",\"message\":" + ModernJson.quote(message) + ",\"serverTime\":\"" + serverTime + "\"}}";
  }

  /** §6.1: b64u(iv ‖ AES-GCM(resKey, envelope, aad = the request's nonce text) ‖ tag), text/plain. */
  Answer sealed(Credential cred, String nonce, byte[] requestAad, String envelope) throws Exception {
    String m = mistake;
    byte[] key = m.equals("res-reqkey") ? cred.reqKey() : cred.resKey();
    byte[] aad = m.equals("res-aad-full") ? requestAad : ModernCrypto.utf8(nonce);
    byte[] iv = random.apply(m.equals("iv-16") ? 16 : 12);
    byte[] out;
    if (m.equals("iv-16")) {
      javax.crypto.Cipher c = javax.crypto.Cipher.getInstance("AES/GCM/NoPadding");
      c.init(javax.crypto.Cipher.ENCRYPT_MODE, new javax.crypto.spec.SecretKeySpec(key, "AES"), new javax.crypto.spec.GCMParameterSpec(128, iv));
      c.updateAAD(aad);
      out = ModernCrypto.concat(iv, c.doFinal(ModernCrypto.utf8(envelope)));
    } else out = ModernCrypto.seal(key, iv, ModernCrypto.utf8(envelope), aad);
    if (m.equals("tag-first")) {
      // iv ‖ tag ‖ ciphertext: the layout some libraries' separate-tag APIs lead to.
      byte[] ct = Arrays.copyOfRange(out, 12, out.length - 16), tag = Arrays.copyOfRange(out, out.length - 16, out.length);
      out = ModernCrypto.concat(iv, tag, ct);
    }
    if (m.equals("tamper")) out[out.length - 20] ^= 1;
    String text = switch (m) {
      case "padded" -> Base64.getUrlEncoder().encodeToString(out);
      case "std-b64" -> Base64.getEncoder().encodeToString(out);
      default -> ModernCrypto.b64u(out);
    };
    if (m.equals("replay-response")) {
      String previous = lastSealed;
      lastSealed = text;
      if (previous != null) text = previous;
    }
    count("sealed");
    if (m.equals("json-string")) return new Answer(200, "application/json", ModernJson.quote(text)); // a framework's String -> JSON converter
    if (m.equals("content-type")) return new Answer(200, "application/json", text);
    return new Answer(200, "text/plain", text);
  }

  // ================================================================ admin (test only)

  boolean admin;

  Answer admin(String query) {
    if (query != null) for (String kv : query.split("&")) {
      String[] p = kv.split("=", 2);
      String v = p.length > 1 ? URLDecoder.decode(p[1], StandardCharsets.UTF_8) : "";
      switch (p[0]) {
        case "clock" -> clockOffset = Long.parseLong(v);
        case "ttl" -> credentialTtlMs = Long.parseLong(v);
        case "mistake" -> { mistake = v; lastSealed = null; }
        case "expire" -> { synchronized (lock) { credentials.clear(); } }
        case "reset" -> { synchronized (lock) { counters.clear(); } }
        default -> { return new Answer(400, "text/plain", "unknown admin key " + p[0]); }
      }
    }
    synchronized (lock) {
      StringBuilder b = new StringBuilder("{");
      for (Map.Entry<String, Integer> e : counters.entrySet()) b.append(b.length() > 1 ? "," : "").append(ModernJson.quote(e.getKey())).append(':').append(e.getValue());
      return new Answer(200, "application/json", b.append('}').toString());
    }
  }

  // ================================================================ main

  public static void main(String[] args) throws Exception {
    String mode = args.length > 0 ? args[0] : "serve";
    switch (mode) {
      case "serve" -> serve(args);
      case "vectors" -> ModernVectors.print(new ModernGateway(), Arrays.copyOfRange(args, 1, args.length));
      case "client" -> ModernClient.run(args[1], args[2], args[3]);
      default -> throw new IllegalArgumentException("mode: serve | vectors | client");
    }
  }

  static void serve(String[] args) throws Exception {
    ModernGateway g = new ModernGateway();
    for (int k = 1; k < args.length; k++) {
      if (args[k].equals("--admin")) g.admin = true;
      else if (args[k].equals("--key")) {
        String[] kv = args[++k].split("=", 2);
        if (!KID.matcher(kv[0]).matches()) throw new IllegalArgumentException("kid");
        g.signingKeys.put(kv[0], ModernCrypto.privateFromScalar(ModernCrypto.hex(kv[1])));
        if (g.activeKid == null) g.activeKid = kv[0];
      } else if (args[k].equals("--active")) g.activeKid = args[++k];
      else throw new IllegalArgumentException("unknown argument " + args[k]);
    }
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", g::handle);
    server.setExecutor(Executors.newFixedThreadPool(8));
    server.start();
    System.out.println("PORT " + server.getAddress().getPort());
    System.out.flush();
  }
}
