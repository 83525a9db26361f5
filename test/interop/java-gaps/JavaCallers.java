import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.crypto.KeyGenerator;

/**
 * Java-made requests, for the SDK's gateway on 127.0.0.1: the app-side code of seed 002
 * (HashMap, EncryptUtil.aesEncode, Collections.sort, Md5Encrypt.md5, URL-encoded POST),
 * steps 1–5 of seed 004, an mgs caller, and two helpers (SHA1PRNG keys, mgs Ts).
 * Crypto from LegacyCrypto (test/interop/java). Usage: JavaCallers <mode> <input> [baseUrl];
 * the input file has one `hex(utf8 name)=hex(utf8 value)` line per entry, in order, so any
 * text (emoji, empty, '=', line breaks) passes untouched. Output: UTF-8 lines on stdout.
 */
public class JavaCallers {
    static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    static final SecureRandom RANDOM = new SecureRandom();

    public static void main(String[] args) throws Exception {
        Map<String, String> in = readInput(args[1]);
        String base = args.length > 2 ? args[2] : null;
        switch (args[0]) {
            case "sha1prng": // one AES key per value: KeyGenerator("AES", 128) seeded through SHA1PRNG
                for (String seed : in.values()) {
                    KeyGenerator kgen = KeyGenerator.getInstance("AES");
                    SecureRandom random = SecureRandom.getInstance("SHA1PRNG");
                    random.setSeed(seed.getBytes(StandardCharsets.UTF_8));
                    kgen.init(128, random);
                    OUT.println(LegacyCrypto.hexEncode(kgen.generateKey().getEncoded()));
                }
                break;
            case "ts":
                for (String ms : in.values()) OUT.println(MgsServer.encodeTs(Long.parseLong(ms)));
                break;
            case "app-secret":
                appSecret(in, base);
                break;
            case "sorted-sign":
                sortedSign(in, base);
                break;
            case "mgs":
                mgs(in, base);
                break;
            default:
                throw new IllegalArgumentException(args[0]);
        }
    }

    // ---------------------------------------------------------------- app-secret (seed 002)

    static LegacyCrypto crypto;
    static boolean mime; // Base64.getMimeEncoder(): lines of 76 characters, as commons-codec 1.4 and sun.misc wrote
    static String publicSecret;

    static String aesEncode(String content, String secret) throws Exception {
        String s = crypto.encrypt(content, secret);
        return mime ? Base64.getMimeEncoder().encodeToString(Base64.getDecoder().decode(s)) : s;
    }

    /** The seed's code, as written there (HashMap: the pair order is whatever Java's hashing gives). */
    static Map<String, String> seal(Map<String, String> param, String appId, String appSecret) throws Exception {
        List<String> keys = new ArrayList<String>(param.size() + 1);
        Map<String, String> requestMap = new HashMap<String, String>();
        if (appId != null) {
            requestMap.put("appId", appId);
            keys.add("appId");
        }
        for (Iterator<String> it = param.keySet().iterator(); it.hasNext();) {
            String paramKey = it.next();
            if (paramKey.equals("appId")) continue;
            keys.add(paramKey);
            requestMap.put(paramKey, aesEncode(param.get(paramKey), appSecret));
        }
        Collections.sort(keys);
        StringBuilder sb = new StringBuilder();
        for (String key : keys) sb.append(requestMap.get(key));
        sb.append(appSecret);
        requestMap.put("sign", crypto.sign(sb.toString(), appSecret));
        Map<String, String> encrptyParam = new HashMap<String, String>();
        for (Map.Entry<String, String> entry : requestMap.entrySet())
            encrptyParam.put(aesEncode(entry.getKey(), publicSecret), aesEncode(entry.getValue(), publicSecret));
        return encrptyParam;
    }

    /** HttpRequestUtil.httpPostAccess(url, params, "utf-8"): URLEncoder.encode of each name and value. */
    static String httpPostAccess(String url, Map<String, String> params) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : params.entrySet()) {
            if (sb.length() > 0) sb.append('&');
            sb.append(URLEncoder.encode(e.getKey(), "utf-8")).append('=').append(URLEncoder.encode(e.getValue(), "utf-8"));
        }
        return send("POST", url, "application/x-www-form-urlencoded", sb.toString(), new HashMap<String, String>())[1];
    }

    static void appSecret(Map<String, String> in, String base) throws Exception {
        crypto = new LegacyCrypto(props(in), "");
        mime = "true".equals(in.get("mime"));
        publicSecret = in.get("publicSecret");
        Map<String, String> issueParams = new LinkedHashMap<String, String>();
        issueParams.put("accessFrom", "h5");
        String issued = crypto.decrypt(httpPostAccess(base + "/secret_key/generate.json", seal(issueParams, null, publicSecret)), publicSecret);
        OUT.println("ISSUED " + issued);
        String appId = jsonString(issued, "appId");
        String appSecret = jsonString(issued, "appSecret");

        Map<String, String> param = params(in);
        String result = httpPostAccess(base + "/api/echo", seal(param, appId, appSecret));
        if ("secret_pass_time_error".equals(result)) throw new IllegalStateException("密钥过期");
        OUT.println("CALL " + crypto.decrypt(result, appSecret));

        // The same call with a sign made under another secret, and with an appId the gateway never issued.
        Map<String, String> forged = seal(param, appId, appSecret.substring(1) + "0");
        OUT.println("FORGED " + httpPostAccess(base + "/api/echo", forged));
        OUT.println("STALE " + httpPostAccess(base + "/api/echo", seal(param, "no-such-app", appSecret)));
    }

    // ---------------------------------------------------------------- sorted-sign (seed 004)

    static void sortedSign(Map<String, String> in, String base) throws Exception {
        LegacyCrypto c = new LegacyCrypto(props(in), "");
        String appId = in.get("appId");
        String appKey = in.get("appKey");
        String safeCode = String.format("%013d", Math.floorMod(RANDOM.nextLong(), 10_000_000_000_000L));
        // 1–2: public params, then the business params.
        Map<String, String> q = new LinkedHashMap<String, String>();
        q.put("appId", appId);
        q.put("timestamp", String.valueOf(System.currentTimeMillis()));
        q.put("safeCode", safeCode);
        q.putAll(params(in));
        // 3: 方式一 timestamp + key; 方式二 drop appId, sort a-z, k=v&k=v, digest.
        String signature;
        if ("timestamp-key".equals(in.get("signRule"))) signature = c.sign(q.get("timestamp") + appKey, appKey);
        else {
            List<String> keys = new ArrayList<String>(q.keySet());
            keys.remove("appId");
            Collections.sort(keys);
            StringBuilder sb = new StringBuilder();
            for (String k : keys) sb.append(sb.length() > 0 ? "&" : "").append(k).append('=').append(q.get(k));
            signature = c.sign(sb.toString(), appKey);
        }
        // 4–5: add signature, drop appId, join unsorted, encrypt the whole.
        q.put("signature", signature);
        q.remove("appId");
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : q.entrySet()) sb.append(sb.length() > 0 ? "&" : "").append(e.getKey()).append('=').append(e.getValue());
        String params = c.encrypt(sb.toString(), appKey);
        OUT.println("SAFECODE " + safeCode);
        for (String label : new String[] { "REPLY", "AGAIN" }) { // AGAIN: the very same request, resent
            String[] res = "POST".equals(in.get("method"))
                ? send("POST", base + "/api/echo", "application/json", "{\"appId\":" + (appId.matches("[0-9]+") ? appId : Http.quote(appId)) + ",\"params\":" + Http.quote(params) + "}", new HashMap<String, String>())
                : send("GET", base + "/api/echo?appId=" + URLEncoder.encode(appId, "UTF-8") + "&params=" + URLEncoder.encode(params, "UTF-8"), null, null, new HashMap<String, String>());
            OUT.println(label + " " + (res[1].startsWith("{") ? res[1] : c.decrypt(res[1], appKey)));
        }
    }

    // ---------------------------------------------------------------- mgs

    static void mgs(Map<String, String> in, String base) throws Exception {
        String op = in.get("op");
        String body = "[{\"_requestBody\":" + Http.quote(in.get("requestBody")) + "}]";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        String ts = MgsServer.encodeTs(System.currentTimeMillis());
        String input = "Operation-Type=" + op + "&Request-Data=" + Base64.getEncoder().encodeToString(bytes) + "&Ts=" + ts;
        String sign = MgsServer.sign(in.get("digest"), input, in.get("secret"));
        if ("upper".equals(in.get("signCase"))) sign = sign.toUpperCase();
        for (String label : new String[] { "OK", "TAMPERED" }) { // TAMPERED: one more space in the body, same Sign
            Map<String, String> h = new LinkedHashMap<String, String>();
            h.put("Version", "2");
            h.put("Operation-Type", op);
            h.put("AppId", in.get("appId"));
            h.put("WorkspaceId", in.get("workspaceId"));
            h.put("Did", "java-device-1");
            h.put("Ts", ts);
            h.put("Sign", sign);
            h.put("signType", in.get("digest"));
            String[] res = send("POST", base + "/mgw.htm", "application/json", label.equals("OK") ? body : body.replace("[{", "[ {"), h);
            OUT.println(label + " " + res[0] + " " + res[1]);
        }
    }

    // ---------------------------------------------------------------- plumbing

    /** {Result-Status header (or HTTP status), body}. */
    static String[] send(String method, String url, String contentType, String body, Map<String, String> headers) throws Exception {
        HttpURLConnection con = (HttpURLConnection) new URL(url).openConnection();
        con.setRequestMethod(method);
        for (Map.Entry<String, String> e : headers.entrySet()) con.setRequestProperty(e.getKey(), e.getValue());
        if (body != null) {
            con.setDoOutput(true);
            con.setRequestProperty("Content-Type", contentType + "; charset=utf-8");
            try (OutputStream os = con.getOutputStream()) {
                os.write(body.getBytes(StandardCharsets.UTF_8));
            }
        }
        int code = con.getResponseCode();
        String status = con.getHeaderField("Result-Status");
        try (InputStream is = code < 400 ? con.getInputStream() : con.getErrorStream()) {
            return new String[] { status != null ? status : String.valueOf(code), is == null ? "" : new String(is.readAllBytes(), StandardCharsets.UTF_8) };
        }
    }

    static Map<String, String> readInput(String path) throws Exception {
        Map<String, String> m = new LinkedHashMap<String, String>();
        for (String line : Files.readAllLines(Paths.get(path), StandardCharsets.UTF_8)) {
            if (line.isEmpty()) continue;
            int eq = line.indexOf('=');
            m.put(utf8(line.substring(0, eq)), utf8(line.substring(eq + 1)));
        }
        return m;
    }

    static String utf8(String hex) {
        return new String(LegacyCrypto.hexDecode(hex), StandardCharsets.UTF_8);
    }

    static Map<String, String> params(Map<String, String> in) {
        Map<String, String> p = new LinkedHashMap<String, String>();
        for (Map.Entry<String, String> e : in.entrySet()) if (e.getKey().startsWith("p.")) p.put(e.getKey().substring(2), e.getValue());
        return p;
    }

    static Properties props(Map<String, String> in) {
        Properties p = new Properties();
        for (String k : new String[] { "cipher", "iv", "keyFrom", "encoding", "digest" }) if (in.get(k) != null) p.setProperty(k, in.get(k));
        return p;
    }

    static String jsonString(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        if (!m.find()) throw new IllegalStateException("no " + name + " in " + json);
        return m.group(1);
    }
}
