import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The app communication encryption scheme (seed 002, PROTOCOLS.md §1): the servlet side,
 * and the app-side sealing code of the seed as the reference client.
 */
public class AppSecretBackend implements Backend {
    private static final String APP_ID_KEY = "appId";
    private final LegacyCrypto crypto;
    private final String publicSecret;
    private final String issuePath;
    private final long ttlMs;
    private final Map<String, String[]> credentials = new ConcurrentHashMap<>(); // appId -> {appSecret, expiresAt}
    private final AtomicInteger issuances = new AtomicInteger();
    private final AtomicInteger calls = new AtomicInteger();
    private final SecureRandom random = new SecureRandom();

    AppSecretBackend(Properties p, String prefix) {
        crypto = new LegacyCrypto(p, prefix);
        publicSecret = p.getProperty(prefix + "publicSecret");
        issuePath = p.getProperty(prefix + "issuePath", "/secret_key/generate.json");
        ttlMs = Long.parseLong(p.getProperty(prefix + "ttlMs", "7200000"));
    }

    public Reply handle(String method, String path, String rawQuery, String body) throws Exception {
        boolean issuance = path.equals(issuePath);
        if (!issuance && !path.equals("/api/echo") && !path.equals("/api/fail")) return new Reply(404, "text/plain", "not_found");

        // Global layer: every key and value under the public secret.
        Map<String, String> requestMap = new HashMap<String, String>();
        try {
            for (String[] kv : Http.parseForm(body)) {
                requestMap.put(crypto.decrypt(kv[0], publicSecret), crypto.decrypt(kv[1], publicSecret));
            }
        } catch (Exception e) {
            return Reply.text("param_error");
        }
        if (requestMap.isEmpty()) return Reply.text("param_error");

        String appSecret;
        String appId = requestMap.get(APP_ID_KEY);
        if (issuance) {
            appSecret = publicSecret;
        } else {
            String[] cred = appId == null ? null : credentials.get(appId);
            if (cred == null || Long.parseLong(cred[1]) <= System.currentTimeMillis()) return Reply.text("secret_pass_time_error");
            appSecret = cred[0];
        }

        String sign = requestMap.get("sign");
        if (sign == null) return Reply.text("sign_error");
        List<String> keys = new ArrayList<String>(requestMap.keySet());
        keys.remove("sign");
        Collections.sort(keys);
        StringBuilder sb = new StringBuilder();
        for (String key : keys) sb.append(requestMap.get(key));
        sb.append(appSecret);
        if (!crypto.sign(sb.toString(), appSecret).equals(sign)) return Reply.text("sign_error");

        Map<String, String> param = new TreeMap<String, String>();
        try {
            for (Map.Entry<String, String> e : requestMap.entrySet()) {
                if (e.getKey().equals("sign") || e.getKey().equals(APP_ID_KEY)) continue;
                param.put(e.getKey(), crypto.decrypt(e.getValue(), appSecret));
            }
        } catch (Exception e) {
            return Reply.text("param_error");
        }

        if (issuance) {
            issuances.incrementAndGet();
            String newId = UUID.randomUUID().toString().replace("-", "") + Long.toString(System.nanoTime(), 36);
            String newSecret = newSecret();
            credentials.put(newId, new String[] { newSecret, String.valueOf(System.currentTimeMillis() + ttlMs) });
            String json = "{\"data\":{\"appId\":" + Http.quote(newId) + ",\"appSecret\":" + Http.quote(newSecret) + "},\"success\":true}";
            return Reply.text(crypto.encrypt(json, publicSecret));
        }

        calls.incrementAndGet();
        String json;
        if (path.equals("/api/echo")) json = "{\"success\":true,\"data\":" + Http.object(param) + "}";
        else json = "{\"success\":false,\"msg\":\"余额不足\",\"code\":\"NO_MONEY\"}";
        return Reply.text(crypto.encrypt(json, appSecret));
    }

    private String newSecret() {
        if ("base64".equals(crypto.keyFrom)) {
            byte[] b = new byte[16];
            random.nextBytes(b);
            return Base64.getEncoder().encodeToString(b);
        }
        return UUID.randomUUID().toString().replace("-", "");
    }

    /**
     * The app-side code of the seed. LinkedHashMap where the seed has HashMap, so the body's
     * pair order is reproducible (servers never depend on it). Inputs: appId and appSecret
     * (absent for issuance: the public secret stands in), ivs (hex, consumed in order, GCM),
     * and p.<name> params in order.
     */
    public String seal(List<String[]> inputs) throws Exception {
        String appId = Http.get(inputs, "appId");
        String appSecret = Http.get(inputs, "appSecret");
        if (appSecret == null) appSecret = publicSecret;
        Deque<byte[]> ivs = new ArrayDeque<byte[]>();
        String ivList = Http.get(inputs, "ivs");
        if (ivList != null && !ivList.isEmpty()) for (String h : ivList.split(",")) ivs.add(LegacyCrypto.hexDecode(h));
        Map<String, String> param = new LinkedHashMap<String, String>();
        for (String[] kv : inputs) if (kv[0].startsWith("p.")) param.put(kv[0].substring(2), kv[1]);

        List<String> keys = new ArrayList<String>(param.size() + 1);
        Map<String, String> requestMap = new LinkedHashMap<String, String>();
        if (appId != null) {
            requestMap.put(APP_ID_KEY, appId);
            keys.add(APP_ID_KEY);
        }
        for (String paramKey : param.keySet()) {
            if (paramKey.equals(APP_ID_KEY)) continue;
            keys.add(paramKey);
            requestMap.put(paramKey, crypto.encrypt(param.get(paramKey), appSecret, ivs.poll()));
        }
        Collections.sort(keys);
        StringBuilder sb = new StringBuilder();
        for (String key : keys) sb.append(requestMap.get(key));
        sb.append(appSecret);
        requestMap.put("sign", crypto.sign(sb.toString(), appSecret));

        Map<String, String> encrptyParam = new LinkedHashMap<String, String>();
        for (Map.Entry<String, String> entry : requestMap.entrySet()) {
            String k = crypto.encrypt(entry.getKey(), publicSecret, ivs.poll());
            String v = crypto.encrypt(entry.getValue(), publicSecret, ivs.poll());
            encrptyParam.put(k, v);
        }
        return Http.formEncode(encrptyParam);
    }

    public void expire() {
        credentials.clear();
    }

    public String stats() {
        return "{\"issuances\":" + issuances.get() + ",\"calls\":" + calls.get() + ",\"credentials\":" + credentials.size() + "}";
    }
}
