package llama2.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import llama2.engine.Config;
import llama2.engine.GoldenCase;
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import llama2.web.support.Paths;
import llama2.web.support.Reference;
import llama2.web.support.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model split across workers ({@code ?workers=N}) in headless Chromium: the reference's ids for
 * any number of workers (three does not divide every model's heads), with shared memory when the
 * page is cross-origin isolated (the dev server's headers, or on a static host the service
 * worker's), and Stop.
 */
class ChromiumShardsTest {
    /** The reference's runs the page repeats, each on a model the site lists under the case's name. */
    static final List<String> GOLDEN = List.of("s260k_topp", "s260k_q80_topp", "tiny32k_topp", "tiny32k_unshared_topp");

    @TempDir
    static Path overlay;
    static DevServer server;
    static Chromium browser;

    @BeforeAll
    static void start() throws IOException {
        browser = Chromium.start();
        TestModels models = new TestModels(overlay).withSiteModels(Paths.bundledModels().resolve("models.json"));
        for (String name : GOLDEN) {
            GoldenCase golden = Reference.golden(name);
            models.addCopy(name, Paths.shared("llama2/models/" + golden.model()), Paths.shared("llama2/models/" + golden.tokenizer()));
        }
        models.addRandom("slow", ChromiumPageTest.SLOW, 1).writeManifest();
        server = new DevServer(0, List.of(overlay, Paths.site()));
    }

    @AfterAll
    static void stop() throws IOException {
        if (browser != null) {
            browser.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void everyGoldenWithOneTwoAndThreeWorkersSharingMemory() {
        for (String name : GOLDEN) {
            GoldenCase golden = Reference.golden(name);
            for (int workers = 1; workers <= 3; workers++) {
                open(server.url(), golden, workers, "");
                assertEquals(true, browser.script("return self.crossOriginIsolated"), "the dev server isolates the page");
                assertEquals(String.valueOf(Math.min(workers, kvHeads(golden))), browser.script("return document.body.dataset.shards"));
                assertEquals(workers == 1 ? "none" : "shared memory", browser.script("return document.body.dataset.transport"));
                assertEquals(Reference.join(golden.ids()), generate(), name + " with " + workers + " workers");
            }
        }
    }

    /** shared=0: the same workers exchange by messages, stage by stage. */
    @Test
    void everyGoldenWithTwoAndThreeWorkersPassingMessages() {
        for (String name : GOLDEN) {
            GoldenCase golden = Reference.golden(name);
            for (int workers = 2; workers <= 3; workers++) {
                open(server.url(), golden, workers, "&shared=0");
                assertEquals("messages", browser.script("return document.body.dataset.transport"));
                assertEquals(Reference.join(golden.ids()), generate(), name + " with " + workers + " workers passing messages");
            }
        }
    }

    /** A page that is not cross-origin isolated (no headers, no service worker) has no shared memory: messages. */
    @Test
    void withoutIsolationTheWorkersPassMessages() throws IOException {
        var driver = (org.openqa.selenium.chrome.ChromeDriver) browser.driver();
        driver.executeCdpCommand("Network.enable", java.util.Map.of());
        driver.executeCdpCommand("Network.setBypassServiceWorker", java.util.Map.of("bypass", true));
        try (DevServer plain = DevServer.staticHost(List.of(overlay, Paths.site()), "/")) {
            GoldenCase golden = Reference.golden("s260k_topp");
            open(plain.url(), golden, 2, "");
            assertEquals(false, browser.script("return self.crossOriginIsolated"));
            assertEquals("messages", browser.script("return document.body.dataset.transport"));
            assertEquals(Reference.join(golden.ids()), generate());
        } finally {
            driver.executeCdpCommand("Network.setBypassServiceWorker", java.util.Map.of("bypass", false));
        }
    }

    @Test
    void stopEndsAStoryOfTwoWorkersAndTheNextOneRuns() {
        browser.open(server.url() + "?model=slow&steps=0&seed=3&workers=2");
        browser.awaitReady(ChromiumPageTest.LOAD);
        assertEquals("2", browser.script("return document.body.dataset.shards"));
        browser.driver().manage().timeouts().scriptTimeout(ChromiumPageTest.GENERATE);
        for (int story = 0; story < 2; story++) {
            // Stop is pressed by the page's own thread as the third token shows (polling from
            // here could be late on a busy machine, after the story ended by itself).
            ((org.openqa.selenium.JavascriptExecutor) browser.driver()).executeAsyncScript(
                    "var done = arguments[0], count = document.getElementById('count');"
                    + "var watch = new MutationObserver(function () { if (parseInt(count.textContent, 10) >= 3) {"
                    + "  watch.disconnect(); document.getElementById('stop').click(); done(); } });"
                    + "watch.observe(count, {childList: true, characterData: true, subtree: true});"
                    + "document.getElementById('generate').click();");
            assertEquals("done", browser.awaitState(ChromiumPageTest.GENERATE, "done", "error"),
                    browser.element("status").getText());
            assertTrue(browser.element("status").getText().startsWith("Stopped"), browser.element("status").getText());
        }
    }

    /** GitHub Pages sends no isolation headers: the service worker adds them, after one reload. */
    @Test
    void aStaticHostUnderASubpathIsIsolatedByTheServiceWorker() throws IOException {
        try (DevServer host = DevServer.staticHost(List.of(overlay, Paths.site()), "/llama2/")) {
            GoldenCase golden = Reference.golden("s260k_topp");
            open(host.url(), golden, 2, "");
            assertEquals(true, browser.script("return self.crossOriginIsolated"), "isolated after the reload");
            assertEquals("2", browser.script("return document.body.dataset.shards"));
            assertEquals(Reference.join(golden.ids()), generate());
        }
    }

    private static int kvHeads(GoldenCase golden) {
        Config config = llama2.engine.Checkpoint.read(java.nio.ByteBuffer.wrap(
                llama2.engine.Shared.bytes(Paths.shared("llama2/models/" + golden.model())))).config();
        return config.nKvHeads();
    }

    private static void open(String site, GoldenCase golden, int workers, String more) {
        browser.open(site + "?model=" + golden.name() + "&workers=" + workers + more + "&seed=" + golden.seed() + "&temperature="
                + golden.temperature() + "&topp=" + golden.topp() + "&steps=" + golden.steps() + "&prompt="
                + URLEncoder.encode(golden.prompt(), StandardCharsets.UTF_8).replace("+", "%20"));
        browser.awaitReady(ChromiumPageTest.LOAD);
    }

    private static String generate() {
        browser.element("generate").click();
        String state = browser.awaitState(ChromiumPageTest.GENERATE, "done", "error");
        assertEquals("done", state, browser.element("status").getText());
        return browser.element("output").getAttribute("data-ids");
    }
}
