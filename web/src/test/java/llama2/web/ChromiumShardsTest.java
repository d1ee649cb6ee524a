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
        models.addRandom("slow", ChromiumPageTest.SLOW, 1)
                .addChatRandom("chatty", new Config(64, 96, 2, 4, 2, 300, 128, true), 1)
                .writeManifest();
        server = new DevServer(0, List.of(overlay, Paths.site()));
    }

    @AfterAll
    static void stop() throws IOException {
        Chromium.close(browser, server);
    }

    /**
     * The reference's ids (the first {@link #STEPS} positions of its runs, to keep the test short)
     * from one, two and three workers sharing memory; three does not divide stories260K's four
     * key/value heads.
     */
    @Test
    void theGoldensWithOneTwoAndThreeWorkersSharingMemory() {
        for (var run : List.of(List.of("s260k_topp", 1), List.of("s260k_topp", 2), List.of("s260k_topp", 3),
                List.of("s260k_q80_topp", 2), List.of("tiny32k_topp", 3), List.of("tiny32k_unshared_topp", 2))) {
            GoldenCase golden = Reference.golden((String) run.get(0));
            int workers = (Integer) run.get(1);
            open(server.url(), golden, workers, "");
            assertEquals(true, browser.script("return self.crossOriginIsolated"), "the dev server isolates the page");
            assertEquals(String.valueOf(Math.min(workers, kvHeads(golden))), browser.script("return document.body.dataset.shards"));
            assertEquals(workers == 1 ? "none" : "shared memory", browser.script("return document.body.dataset.transport"));
            assertEquals(expected(golden), generate(), golden.name() + " with " + workers + " workers");
        }
    }

    /** shared=0: the same workers exchange by messages, stage by stage. */
    @Test
    void theGoldensWithTwoAndThreeWorkersPassingMessages() {
        for (var run : List.of(List.of("s260k_topp", 3), List.of("tiny32k_unshared_topp", 2))) {
            GoldenCase golden = Reference.golden((String) run.get(0));
            open(server.url(), golden, (Integer) run.get(1), "&shared=0");
            assertEquals("messages", browser.script("return document.body.dataset.transport"));
            assertEquals(expected(golden), generate(), golden.name() + " with " + run.get(1) + " workers passing messages");
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
            assertEquals(expected(golden), generate());
        } finally {
            driver.executeCdpCommand("Network.setBypassServiceWorker", java.util.Map.of("bypass", false));
        }
    }

    @Test
    void stopEndsAStoryOfTwoWorkersAndTheNextOneRuns() {
        browser.open(server.url() + "?model=slow&steps=0&seed=23&workers=2");
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

    /**
     * Files opened from the disk split across workers like downloaded ones (each worker reads its
     * own ranges of the file): a Q8_0 file in three workers, stories260K's legacy fp32 file (its
     * RoPE tables skipped) in two, and that file quantized on load in two, which gives the Q8_0
     * file's ids.
     */
    @Test
    void localFilesSplitAcrossWorkers() throws IOException {
        GoldenCase q80 = Reference.golden("s260k_q80_topp");
        GoldenCase fp32 = Reference.golden("s260k_topp");
        for (var run : List.of(List.of(q80, q80, 3, ""), List.of(fp32, fp32, 2, ""), List.of(fp32, q80, 2, "&q8=1"))) {
            GoldenCase file = (GoldenCase) run.get(0);
            GoldenCase golden = (GoldenCase) run.get(1);
            int workers = (Integer) run.get(2);
            open(server.url(), golden, workers, (String) run.get(3));
            browser.script("document.getElementById('facts').textContent = ''; return null"); // the facts to wait for are the file's
            new org.openqa.selenium.support.ui.Select(browser.element("model")).selectByVisibleText("Open files…");
            browser.element("model-file").sendKeys(Paths.shared("llama2/models/" + file.model()).toRealPath().toString());
            browser.element("tokenizer-file").sendKeys(Paths.shared("llama2/models/" + file.tokenizer()).toRealPath().toString());
            String facts = file == q80 ? "Q8_0" : run.get(3).equals("") ? "float32" : "quantized on load";
            new org.openqa.selenium.support.ui.WebDriverWait(browser.driver(), ChromiumPageTest.LOAD)
                    .withMessage(() -> file.model() + " in " + workers + " workers: " + browser.element("status").getText()
                            + " / " + browser.element("facts").getAttribute("textContent"))
                    .until(d -> browser.element("facts").getAttribute("textContent").contains(facts)
                            && browser.element("facts").getAttribute("textContent").contains("workers"));
            browser.awaitReady(ChromiumPageTest.LOAD);
            assertEquals(String.valueOf(workers), browser.script("return document.body.dataset.shards"));
            assertEquals(expected(golden), generate(), file.model() + " from the disk in " + workers + " workers" + run.get(3));
        }
    }

    /** A conversation of two turns: the same ids with one worker, two sharing memory, two passing messages. */
    @Test
    void chatGoesOnTheSameInShards() {
        List<String> conversations = new java.util.ArrayList<>();
        for (String workers : List.of("1", "2", "2&shared=0")) {
            browser.open(server.url() + "?model=chatty&mode=chat&workers=" + workers + "&seed=5&steps=0&temperature=1&topp=0.9");
            browser.awaitReady(ChromiumPageTest.LOAD);
            StringBuilder ids = new StringBuilder();
            for (String message : List.of("hello there", "and then")) {
                browser.type("prompt", message);
                ids.append(generate()).append(" | ");
            }
            conversations.add(ids.toString());
        }
        assertEquals(conversations.get(0), conversations.get(1), "two workers sharing memory");
        assertEquals(conversations.get(0), conversations.get(2), "two workers passing messages");
    }

    /** GitHub Pages sends no isolation headers: the service worker adds them, after one reload. */
    @Test
    void aStaticHostUnderASubpathIsIsolatedByTheServiceWorker() throws IOException {
        try (DevServer host = DevServer.staticHost(List.of(overlay, Paths.site()), "/llama2/")) {
            GoldenCase golden = Reference.golden("s260k_topp");
            open(host.url(), golden, 2, "");
            assertEquals(true, browser.script("return self.crossOriginIsolated"), "isolated after the reload");
            assertEquals("2", browser.script("return document.body.dataset.shards"));
            assertEquals(expected(golden), generate());
        }
    }

    /**
     * Isolation (the service worker's credentialless embedder policy) still lets the page download
     * a model from another origin that allows it, as Hugging Face does.
     */
    @Test
    void anIsolatedPageStillDownloadsModelsFromOtherSites(@TempDir Path site) throws IOException {
        GoldenCase golden = Reference.golden("s260k_topp");
        try (DevServer remote = new DevServer(0, List.of(overlay))) {
            // The page's origin is localhost; 127.0.0.1 is another origin.
            String files = "http://127.0.0.1:" + remote.port() + "/models/" + golden.name();
            java.nio.file.Files.createDirectories(site.resolve("models"));
            java.nio.file.Files.writeString(site.resolve("models/models.json"), "[{\"id\": \"remote\", \"name\": \"Remote\", "
                    + "\"model\": \"" + files + ".bin\", \"tokenizer\": \"" + files + "-tokenizer.bin\", \"bytes\": 1}]");
            try (DevServer host = DevServer.staticHost(List.of(site, Paths.site()), "/llama2/")) {
                browser.open(host.url() + "?model=remote&workers=2&seed=" + golden.seed() + "&temperature=" + golden.temperature()
                        + "&topp=" + golden.topp() + "&steps=" + STEPS + "&prompt="
                        + URLEncoder.encode(golden.prompt(), StandardCharsets.UTF_8).replace("+", "%20"));
                browser.awaitReady(ChromiumPageTest.LOAD);
                assertEquals(true, browser.script("return self.crossOriginIsolated"));
                assertEquals("shared memory", browser.script("return document.body.dataset.transport"));
                assertEquals(expected(golden), generate());
                assertTrue(remote.requests("/models/" + golden.name() + ".bin") >= 1, "downloaded from the other origin");
            }
        }
    }

    private static int kvHeads(GoldenCase golden) {
        Config config = llama2.engine.Checkpoint.read(java.nio.ByteBuffer.wrap(
                llama2.engine.Shared.bytes(Paths.shared("llama2/models/" + golden.model())))).config();
        return config.nKvHeads();
    }

    /** Positions of a golden run the page repeats: the reference's ids of a shorter run are a prefix of its own. */
    static final int STEPS = 64;

    /** The first ids of the golden run (BOS and {@link #STEPS} more, or all if the story ended sooner). */
    private static String expected(GoldenCase golden) {
        return Reference.join(java.util.Arrays.copyOf(golden.ids(), Math.min(golden.ids().length, STEPS + 1)));
    }

    private static void open(String site, GoldenCase golden, int workers, String more) {
        browser.open(site + "?model=" + golden.name() + "&workers=" + workers + more + "&seed=" + golden.seed() + "&temperature="
                + golden.temperature() + "&topp=" + golden.topp() + "&steps=" + Math.min(STEPS, golden.steps()) + "&prompt="
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
