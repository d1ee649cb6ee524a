package llama2.web.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Serves the static site from one or more folders with the JDK's built-in HTTP server.
 *
 * <p>Nothing here runs in production: GitHub Pages (or any static host) serves the same folder.
 * The server exists so that {@code ./web/serve} works without installing anything, and so that
 * browser tests can overlay test models on the real site and count requests (a second visit must
 * be answered from the browser's cache, not from here).
 *
 * <p>It sends the headers that make the page cross-origin isolated (so its workers can share
 * memory), as a configurable host would; {@link #staticHost} sends none, and serves the site
 * under a subpath, as GitHub Pages serves a project site: there the service worker isolates it.
 */
public final class DevServer implements AutoCloseable {

    /** The content types a browser insists on: Wasm streaming compilation needs application/wasm. */
    private static final Map<String, String> CONTENT_TYPES = Map.ofEntries(
            Map.entry("html", "text/html; charset=utf-8"),
            Map.entry("css", "text/css; charset=utf-8"),
            Map.entry("js", "text/javascript; charset=utf-8"),
            Map.entry("mjs", "text/javascript; charset=utf-8"),
            Map.entry("json", "application/json; charset=utf-8"),
            Map.entry("webmanifest", "application/manifest+json; charset=utf-8"),
            Map.entry("wasm", "application/wasm"),
            Map.entry("bin", "application/octet-stream"),
            Map.entry("png", "image/png"),
            Map.entry("svg", "image/svg+xml"),
            Map.entry("ico", "image/x-icon"),
            Map.entry("txt", "text/plain; charset=utf-8"),
            Map.entry("md", "text/plain; charset=utf-8"));

    private final List<Path> roots;
    private final boolean isolate;   // send COOP and COEP
    private final String base;       // the site's path: "/" or "/<repo>/"
    private final HttpServer server;
    private final Map<String, AtomicInteger> requestsByPath = new ConcurrentHashMap<>();

    /**
     * Starts serving; the first folder that holds a requested file wins, so a test can put its own
     * {@code models/models.json} in front of the real site.
     *
     * @param port 0 picks a free port
     */
    public DevServer(int port, List<Path> roots) throws IOException {
        this("127.0.0.1", port, roots);
    }

    /** As above, on {@code host}: "0.0.0.0" lets a phone on the same network open the page. */
    public DevServer(String host, int port, List<Path> roots) throws IOException {
        this(host, port, roots, true, "/");
    }

    /**
     * Like a static host such as GitHub Pages: no isolation headers, the site under {@code base}
     * (for example "/llama2/"), on a free port.
     */
    public static DevServer staticHost(List<Path> roots, String base) throws IOException {
        return new DevServer("127.0.0.1", 0, roots, false, base);
    }

    private DevServer(String host, int port, List<Path> roots, boolean isolate, String base) throws IOException {
        this.roots = roots.stream().map(root -> root.toAbsolutePath().normalize()).toList();
        this.isolate = isolate;
        this.base = base;
        this.server = HttpServer.create(new InetSocketAddress(host, port), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public String url() {
        return "http://localhost:" + port() + base;
    }

    /** How many times a path (such as {@code /models/default.bin}) was requested so far. */
    public int requests(String path) {
        AtomicInteger count = requestsByPath.get(path);
        return count == null ? 0 : count.get();
    }

    @Override
    public void close() {
        server.stop(0);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = URI.create(exchange.getRequestURI().getRawPath()).getPath();
            requestsByPath.computeIfAbsent(path, key -> new AtomicInteger()).incrementAndGet();
            String method = exchange.getRequestMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                sendText(exchange, 405, "Only GET and HEAD are served here.");
                return;
            }
            Path file = path.startsWith(base) ? find(path.substring(base.length())) : null;
            if (file == null) {
                sendText(exchange, 404, "Not found: " + path);
                return;
            }
            byte[] body = Files.readAllBytes(file);
            exchange.getResponseHeaders().set("Content-Type", contentType(file));
            // Always revalidate: a rebuilt site must show up on reload during development.
            exchange.getResponseHeaders().set("Cache-Control", "no-cache");
            // Any page may download the models, as from Hugging Face (cross-origin isolated pages too).
            exchange.getResponseHeaders().set("Access-Control-Allow-Origin", "*");
            if (isolate) { // shared memory for the workers that split a model
                exchange.getResponseHeaders().set("Cross-Origin-Opener-Policy", "same-origin");
                exchange.getResponseHeaders().set("Cross-Origin-Embedder-Policy", "credentialless");
            }
            if (method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Content-Length", Long.toString(body.length));
                exchange.sendResponseHeaders(200, -1);
                return;
            }
            exchange.sendResponseHeaders(200, body.length == 0 ? -1 : body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    /** The file for a URL path, or null; never anything outside the served folders. */
    private Path find(String urlPath) {
        String relative = urlPath.startsWith("/") ? urlPath.substring(1) : urlPath; // relative to the base
        if (relative.isEmpty() || relative.endsWith("/")) {
            relative = relative + "index.html";
        }
        for (Path root : roots) {
            Path candidate = root.resolve(relative).normalize();
            if (!candidate.startsWith(root)) {
                return null;
            }
            if (Files.isDirectory(candidate)) {
                candidate = candidate.resolve("index.html");
            }
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    static String contentType(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String extension = dot < 0 ? "" : name.substring(dot + 1).toLowerCase(java.util.Locale.ROOT);
        return CONTENT_TYPES.getOrDefault(extension, "application/octet-stream");
    }

    private static void sendText(HttpExchange exchange, int status, String text) throws IOException {
        byte[] body = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    /** {@code DevServer <folder> [port] [host]}: serves the folder until the process is stopped. */
    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 3) {
            System.err.println("usage: DevServer <site folder> [port, default 8080] [host, default 127.0.0.1]");
            System.exit(2);
        }
        Path site = Path.of(args[0]);
        if (!Files.isRegularFile(site.resolve("index.html"))) {
            System.err.println("No index.html in " + site.toAbsolutePath()
                    + ": build the site first (mvn -pl web -am package -DskipTests).");
            System.exit(1);
        }
        int port = args.length >= 2 ? Integer.parseInt(args[1]) : 8080;
        String host = args.length == 3 ? args[2] : "127.0.0.1";
        DevServer server;
        try {
            server = new DevServer(host, port, List.of(site));
        } catch (java.net.BindException e) {
            System.err.println("Port " + port + " is already in use; pass another port, e.g. 8081.");
            System.exit(1);
            return;
        }
        System.out.println("Serving " + site.toAbsolutePath() + " at " + server.url()
                + (host.equals("127.0.0.1") ? "" : " (and on this machine's addresses, listening on " + host + ")")
                + "  (Ctrl+C stops)");
    }
}
