package llama2.web.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DevServerTest {
    @TempDir
    Path site;
    @TempDir
    Path overlay;
    DevServer server;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void serve() throws IOException {
        Files.writeString(site.resolve("index.html"), "<!doctype html><title>site</title>");
        Files.createDirectories(site.resolve("wasm"));
        Files.write(site.resolve("wasm/engine.wasm"), new byte[] {0, 'a', 's', 'm'});
        Files.writeString(site.resolve("app.js"), "1;");
        Files.createDirectories(site.resolve("models"));
        Files.writeString(site.resolve("models/models.json"), "[\"site\"]");
        Files.write(site.resolve("models/m.bin"), new byte[10]);
        Files.createDirectories(overlay.resolve("models"));
        Files.writeString(overlay.resolve("models/models.json"), "[\"overlay\"]");
        server = new DevServer(0, List.of(overlay, site));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HttpResponse<String> get(String rawPath) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.url() + rawPath.substring(1))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesEachFileWithTheTypeBrowsersRequire() throws Exception {
        assertEquals("application/wasm", get("/wasm/engine.wasm").headers().firstValue("Content-Type").orElseThrow());
        assertEquals("text/javascript; charset=utf-8", get("/app.js").headers().firstValue("Content-Type").orElseThrow());
        assertEquals("application/octet-stream", get("/models/m.bin").headers().firstValue("Content-Type").orElseThrow());
        assertEquals("text/html; charset=utf-8", get("/").headers().firstValue("Content-Type").orElseThrow());
        assertEquals("<!doctype html><title>site</title>", get("/").body());
    }

    @Test
    void theFirstFolderHoldingAFileWins() throws Exception {
        assertEquals("[\"overlay\"]", get("/models/models.json").body());
        assertEquals(200, get("/models/m.bin").statusCode(), "files missing from the overlay come from the site");
    }

    @Test
    void nothingOutsideTheFoldersIsServed() throws Exception {
        Files.writeString(site.getParent().resolve("secret.txt"), "no");
        assertEquals(404, get("/%2e%2e/secret.txt").statusCode());
        assertEquals(404, get("/missing.js").statusCode());
    }

    @Test
    void countsRequestsPerPath() throws Exception {
        get("/models/m.bin");
        get("/models/m.bin");
        get("/app.js");
        assertEquals(2, server.requests("/models/m.bin"));
        assertEquals(1, server.requests("/app.js"));
        assertEquals(0, server.requests("/index.html"));
    }

    @Test
    void onlyReadsAreAllowed() throws Exception {
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(server.url() + "app.js"))
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode());
        HttpResponse<String> head = http.send(HttpRequest.newBuilder(URI.create(server.url() + "models/m.bin"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, head.statusCode());
        assertEquals("10", head.headers().firstValue("Content-Length").orElseThrow());
    }
}
