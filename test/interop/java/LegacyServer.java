import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Executors;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * Java reference back ends for the legacy dialects, one per variant of a properties file,
 * each mounted under /<variant>. Listens on 127.0.0.1, an ephemeral port, and prints
 * "PORT <n>". Test hooks per variant: POST /__admin/expire, GET /__admin/stats,
 * POST /__ref/seal (the reference client's sealing of the given inputs).
 */
public class LegacyServer {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        try (InputStreamReader r = new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8)) {
            p.load(r);
        }
        Map<String, Backend> backends = new HashMap<String, Backend>();
        for (String v : p.getProperty("variants").split(",")) {
            String prefix = v + ".";
            String dialect = p.getProperty(prefix + "dialect");
            backends.put(v, "app-secret".equals(dialect) ? new AppSecretBackend(p, prefix) : new SortedSignBackend(p, prefix));
        }

        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", (HttpExchange ex) -> {
            Reply reply;
            try {
                String path = ex.getRequestURI().getRawPath();
                int slash = path.indexOf('/', 1);
                Backend b = slash < 0 ? null : backends.get(path.substring(1, slash));
                String rest = slash < 0 ? "" : path.substring(slash);
                String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                if (b == null) reply = new Reply(404, "text/plain", "not_found");
                else if (rest.equals("/__admin/expire")) {
                    b.expire();
                    reply = Reply.text("ok");
                } else if (rest.equals("/__admin/stats")) reply = Reply.json(b.stats());
                else if (rest.equals("/__ref/seal")) reply = Reply.text(b.seal(Http.parseForm(body)));
                else reply = b.handle(ex.getRequestMethod(), rest, ex.getRequestURI().getRawQuery(), body);
            } catch (Exception e) {
                e.printStackTrace();
                reply = new Reply(500, "text/plain", "error");
            }
            byte[] out = reply.body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", reply.contentType);
            ex.sendResponseHeaders(reply.status, out.length == 0 ? -1 : out.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(out);
            }
        });
        server.setExecutor(Executors.newFixedThreadPool(16));
        server.start();
        System.out.println("PORT " + server.getAddress().getPort());
        System.out.flush();
    }
}
