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
                open(server.url(), golden, workers);
                assertEquals(true, browser.script("return self.crossOriginIsolated"), "the dev server isolates the page");
                assertEquals(String.valueOf(Math.min(workers, kvHeads(golden))), browser.script("return document.body.dataset.shards"));
                assertEquals(Reference.join(golden.ids()), generate(), name + " with " + workers + " workers");
            }
        }
    }

    @Test
    void stopEndsAStoryOfTwoWorkersAndTheNextOneRuns() {
        browser.open(server.url() + "?model=slow&steps=0&seed=3&workers=2");
        browser.awaitReady(ChromiumPageTest.LOAD);
        assertEquals("2", browser.script("return document.body.dataset.shards"));
        for (int story = 0; story < 2; story++) {
            browser.element("generate").click();
            new org.openqa.selenium.support.ui.WebDriverWait(browser.driver(), ChromiumPageTest.GENERATE)
                    .until(d -> Integer.parseInt(browser.element("count").getText()) >= 3);
            browser.element("stop").click();
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
            open(host.url(), golden, 2);
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

    private static void open(String site, GoldenCase golden, int workers) {
        browser.open(site + "?model=" + golden.name() + "&workers=" + workers + "&seed=" + golden.seed() + "&temperature="
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
