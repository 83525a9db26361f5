import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The network verification service's encrypted request (seed 004, PROTOCOLS.md §2): the
 * server, and the client steps 1–5 of its documentation as the reference client.
 */
public class SortedSignBackend implements Backend {
    private final LegacyCrypto crypto;
    private final Map<String, String> apps = new LinkedHashMap<String, String>();
    private final String signRule;
    private final long windowMs;
    private final Map<String, Long> seen = new ConcurrentHashMap<String, Long>();
    private final AtomicInteger calls = new AtomicInteger();
    private final AtomicInteger replays = new AtomicInteger();
    private static final Pattern APP_ID = Pattern.compile("\"appId\"\\s*:\\s*\"?([^\",}]+)\"?");
    private static final Pattern PARAMS = Pattern.compile("\"params\"\\s*:\\s*\"([^\"]*)\"");

    SortedSignBackend(Properties p, String prefix) {
        crypto = new LegacyCrypto(p, prefix);
        for (String app : p.getProperty(prefix + "apps").split(",")) {
            int c = app.indexOf(':');
            apps.put(app.substring(0, c), app.substring(c + 1));
        }
        signRule = p.getProperty(prefix + "signRule", "sorted");
        windowMs = Long.parseLong(p.getProperty(prefix + "windowMs", "5000"));
    }

    private String signature(Map<String, String> q, String appKey) throws Exception {
        if ("timestamp-key".equals(signRule)) return crypto.sign(q.get("timestamp") + appKey, appKey);
        List<String> keys = new ArrayList<String>(q.keySet());
        keys.remove("appId");
        keys.remove("signature");
        Collections.sort(keys);
        StringBuilder sb = new StringBuilder();
        for (String k : keys) {
            if (sb.length() > 0) sb.append('&');
            sb.append(k).append('=').append(q.get(k));
        }
        return crypto.sign(sb.toString(), appKey);
    }

    private Reply plain(int code, String msg) {
        return Reply.json("{\"code\":" + code + ",\"msg\":" + Http.quote(msg) + ",\"timestamp\":" + System.currentTimeMillis() + "}");
    }

    private Reply sealed(int code, String msg, String dataJson, String safeCode, String appKey) throws Exception {
        StringBuilder sb = new StringBuilder("{\"code\":").append(code).append(",\"msg\":").append(Http.quote(msg));
        if (dataJson != null) sb.append(",\"data\":").append(dataJson);
        if (safeCode != null) sb.append(",\"safeCode\":").append(Http.quote(safeCode));
        sb.append(",\"timestamp\":").append(System.currentTimeMillis()).append('}');
        return Reply.text(crypto.encrypt(sb.toString(), appKey));
    }

    public Reply handle(String method, String path, String rawQuery, String body) throws Exception {
        if (!path.equals("/api/echo") && !path.equals("/api/fail")) return new Reply(404, "text/plain", "not_found");
        String appId;
        String params;
        if ("GET".equals(method)) {
            List<String[]> query = Http.parseForm(rawQuery);
            appId = Http.get(query, "appId");
            params = Http.get(query, "params");
        } else {
            Matcher a = APP_ID.matcher(body);
            Matcher p = PARAMS.matcher(body);
            appId = a.find() ? a.group(1) : null;
            params = p.find() ? p.group(1) : null;
        }
        String appKey = appId == null ? null : apps.get(appId);
        if (appKey == null) return plain(1000, "应用不存在");
        if (params == null) return plain(1001, "参数错误");
        String text;
        try {
            text = crypto.decrypt(params, appKey);
        } catch (Exception e) {
            return plain(1001, "参数错误");
        }

        Map<String, String> q = new LinkedHashMap<String, String>();
        for (String pair : text.split("&")) {
            int eq = pair.indexOf('=');
            if (eq <= 0) return sealed(1001, "参数错误", null, null, appKey);
            q.put(pair.substring(0, eq), pair.substring(eq + 1));
        }
        String safeCode = q.get("safeCode");
        String given = q.get("signature");
        if (given == null || !signature(q, appKey).equals(given)) return sealed(1002, "签名错误", null, safeCode, appKey);
        long now = System.currentTimeMillis();
        long ts;
        try {
            ts = Long.parseLong(q.get("timestamp"));
        } catch (Exception e) {
            return sealed(1001, "参数错误", null, safeCode, appKey);
        }
        if (Math.abs(now - ts) > windowMs) return sealed(1003, "时间戳已过期", null, safeCode, appKey);
        if (safeCode == null) return sealed(1001, "参数错误", null, null, appKey);
        for (Iterator<Map.Entry<String, Long>> it = seen.entrySet().iterator(); it.hasNext();) if (it.next().getValue() <= now) it.remove();
        if (seen.putIfAbsent(appId + "\n" + safeCode, now + 2 * windowMs) != null) {
            replays.incrementAndGet();
            return sealed(1004, "请求重复", null, safeCode, appKey);
        }

        calls.incrementAndGet();
        if (path.equals("/api/fail")) return sealed(2001, "卡密已过期", null, safeCode, appKey);
        Map<String, String> data = new LinkedHashMap<String, String>(q);
        data.remove("timestamp");
        data.remove("safeCode");
        data.remove("signature");
        return sealed(0, "ok", Http.object(data), safeCode, appKey);
    }

    /** Steps 1–5 of the documentation. Inputs: appId, timestamp, safeCode, token?, machineCode?, iv (hex, GCM), method, p.<name>. */
    public String seal(List<String[]> inputs) throws Exception {
        String appId = Http.get(inputs, "appId");
        String appKey = apps.get(appId);
        Map<String, String> q = new LinkedHashMap<String, String>();
        q.put("appId", appId);
        q.put("timestamp", Http.get(inputs, "timestamp"));
        q.put("safeCode", Http.get(inputs, "safeCode"));
        if (Http.get(inputs, "token") != null) q.put("token", Http.get(inputs, "token"));
        if (Http.get(inputs, "machineCode") != null) q.put("machineCode", Http.get(inputs, "machineCode"));
        for (String[] kv : inputs) if (kv[0].startsWith("p.")) q.put(kv[0].substring(2), kv[1]);
        q.put("signature", signature(q, appKey));
        q.remove("appId");
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : q.entrySet()) {
            if (sb.length() > 0) sb.append('&');
            sb.append(e.getKey()).append('=').append(e.getValue());
        }
        String params = crypto.encrypt(sb.toString(), appKey, Http.hexOrNull(Http.get(inputs, "iv")));
        if ("POST".equals(Http.get(inputs, "method"))) return "{\"appId\":" + Http.quote(appId) + ",\"params\":" + Http.quote(params) + "}";
        Map<String, String> out = new LinkedHashMap<String, String>();
        out.put("appId", appId);
        out.put("params", params);
        return Http.formEncode(out);
    }

    public void expire() {
        seen.clear();
    }

    public String stats() {
        return "{\"calls\":" + calls.get() + ",\"replays\":" + replays.get() + ",\"safeCodes\":" + seen.size() + "}";
    }
}
