import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.text.SimpleDateFormat;
import java.util.Base64;
import java.util.Date;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A Java back end that checks mgs requests (PROTOCOLS.md §3) the way a server-side verifier
 * written from the gateway's documentation does: Sign = digest("Operation-Type=<op>&Request-Data=
 * <base64(body bytes)>&Ts=<Ts>" + secret), Ts decoded from base 64 (0-9A-Za-z+/), a 5 min window.
 * JDK only. Args: apps as appId:secret:digest (digest md5 | hmac-sha256). Listens on 127.0.0.1
 * (ephemeral port), prints "PORT <n>". A success (1000) answers what Java saw, so the test can
 * compare it with what the SDK sent: {"operationType","ts","requestData","sign"}.
 */
public class MgsServer {
    static final String TS_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/";
    static final long WINDOW_MS = 300_000;

    /** Ts text -> epoch ms; -1 when it is not such a number. */
    static long decodeTs(String s) {
        if (s.isEmpty() || s.length() > 9) return -1;
        long n = 0;
        for (char c : s.toCharArray()) {
            int v = TS_ALPHABET.indexOf(c);
            if (v < 0) return -1;
            n = n * 64 + v;
        }
        return n;
    }

    static String encodeTs(long ms) {
        if (ms == 0) return "0";
        StringBuilder sb = new StringBuilder();
        for (long n = ms; n > 0; n /= 64) sb.insert(0, TS_ALPHABET.charAt((int) (n % 64)));
        return sb.toString();
    }

    /** digest(input + secret), lower-case hex; HMAC keyed with the secret's UTF-8 bytes. */
    static String sign(String digest, String input, String secret) throws Exception {
        byte[] msg = (input + secret).getBytes(StandardCharsets.UTF_8);
        byte[] d;
        if ("hmac-sha256".equals(digest)) {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            d = mac.doFinal(msg);
        } else {
            d = MessageDigest.getInstance("MD5").digest(msg);
        }
        // "md5-biginteger": the hex many Java helpers write, which drops leading zeros.
        if (digest.endsWith("-biginteger")) return new java.math.BigInteger(1, d).toString(16);
        StringBuilder sb = new StringBuilder();
        for (byte b : d) sb.append(String.format("%02x", b & 0xff));
        return sb.toString();
    }

    static String httpDate(long ms) {
        SimpleDateFormat f = new SimpleDateFormat("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.US);
        f.setTimeZone(TimeZone.getTimeZone("GMT"));
        return f.format(new Date(ms));
    }

    public static void main(String[] args) throws Exception {
        Map<String, String[]> apps = new HashMap<>(); // appId -> {secret, digest}
        for (String a : args) {
            String[] p = a.split(":", 3);
            apps.put(p[0], new String[] { p[1], p[2] });
        }
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/mgw.htm", (HttpExchange ex) -> {
            int status;
            String body;
            try {
                byte[] bodyBytes = ex.getRequestBody().readAllBytes();
                String op = ex.getRequestHeaders().getFirst("Operation-Type");
                String ts = ex.getRequestHeaders().getFirst("Ts");
                String given = ex.getRequestHeaders().getFirst("Sign");
                String[] app = apps.get(String.valueOf(ex.getRequestHeaders().getFirst("AppId")));
                long sentAt = ts == null ? -1 : decodeTs(ts);
                String expected = null;
                if (given == null) status = 7014;
                else if (ts == null) status = 7007;
                else if (app == null) status = 7000;
                else if (op == null || sentAt < 0) status = 7001;
                else if (Math.abs(System.currentTimeMillis() - sentAt) > WINDOW_MS) status = 7003;
                else {
                    String input = "Operation-Type=" + op + "&Request-Data=" + Base64.getEncoder().encodeToString(bodyBytes) + "&Ts=" + ts;
                    expected = sign(app[1], input, app[0]);
                    status = expected.equals(given) ? 1000 : 7002;
                }
                if (status == 1000)
                    body = "{\"operationType\":" + Http.quote(op) + ",\"ts\":" + sentAt + ",\"requestData\":" + Http.quote(Base64.getEncoder().encodeToString(bodyBytes)) + ",\"sign\":" + Http.quote(expected) + "}";
                else body = "{\"resultStatus\":" + status + "}";
            } catch (Exception e) {
                e.printStackTrace();
                status = 5000;
                body = "{}";
            }
            byte[] out = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json;charset=UTF-8");
            ex.getResponseHeaders().set("Result-Status", String.valueOf(status));
            ex.getResponseHeaders().set("Memo", status == 1000 ? "ok" : "error");
            ex.getResponseHeaders().set("Date", httpDate(System.currentTimeMillis()));
            ex.sendResponseHeaders(200, out.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(out);
            }
        });
        server.start();
        System.out.println("PORT " + server.getAddress().getPort());
        System.out.flush();
    }
}
