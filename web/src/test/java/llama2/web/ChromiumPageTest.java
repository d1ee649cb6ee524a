package llama2.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
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
import org.openqa.selenium.Keys;
import org.openqa.selenium.support.ui.Select;

/**
 * The page in a real browser (Debian's headless Chromium) on the WebAssembly GC build, whose
 * arithmetic matches the JVM bit for bit: the same settings must give the same token ids.
 */
class ChromiumPageTest {
    static final Duration LOAD = Duration.ofSeconds(60);
    static final Duration GENERATE = Duration.ofSeconds(120);
    /** Big enough that a story of seq_len tokens takes seconds, so Stop lands mid-story. */
    /** The bundled fp32 model whose Q8_0 twin is the default (10 of its weights are ties w/scale = k + 0.5). */
    static final String FP32_TWIN = "stories5M-java";
    static final Config SLOW = new Config(288, 768, 6, 6, 6, 512, 2048, true);

    @TempDir
    static Path overlay;
    static DevServer server;
    static Chromium browser;

    @BeforeAll
    static void start() throws IOException {
        browser = Chromium.start();
        new TestModels(overlay)
                .withSiteModels(Paths.bundledModels().resolve("models.json"))
                .addRandom("slow", SLOW, 1)
                .addListedButMissing("missing")
                .addTruncated("broken", new Config(8, 16, 1, 2, 2, 300, 24, true))
                .writeManifest();
        server = new DevServer(0, List.of(overlay, Paths.site()));
    }

    @AfterAll
    static void stop() throws IOException {
        Chromium.close(browser, server);
    }

    /**
     * The default model is a Q8_0 file: read in one worker it is packed row by row for the 64-bit
     * kernel as it arrives; on this page's default of one worker per core it is split into slices.
     */
    @Test
    void defaultModelTellsTheSameStoryAsTheJvmCli() throws Exception {
        String prompt = "Once upon a time";
        Path model = Paths.defaultModel().model();
        Path tokenizer = Paths.defaultModel().tokenizer();
        String expected = Reference.jvmIds(model, tokenizer, 0.8f, 0.9f, 42, 120, prompt);
        if (Reference.cliJar().isPresent()) { // built by the engine module earlier in the same reactor build
            assertEquals(expected, Reference.cliIds(Reference.cliJar().get(), model, tokenizer, 0.8f, 0.9f, 42, 120, prompt));
        }
        for (String workers : new String[] {"&workers=1", ""}) {
            browser.open(server.url() + "?seed=42&temperature=0.8&topp=0.9&steps=120&prompt=" + encode(prompt) + workers);
            browser.awaitReady(LOAD);
            assertEquals("wasm", browser.engine());
            assertEquals("WebAssembly GC", browser.element("engine").getText());
            assertTrue(browser.element("facts").getAttribute("textContent").contains("Q8_0"));
            if (!workers.isEmpty()) {
                assertEquals("1", browser.script("return document.body.dataset.shards"));
            }
            assertEquals(expected, generate(), workers.isEmpty() ? "the default workers" : workers);
            assertTrue(browser.element("output").getText().startsWith(prompt));
        }
    }

    /**
     * "Quantize to Q8_0 on load" on the bundled fp32 model gives the story the engine tells on the
     * file {@code llama2.jar quantize} writes (the engine's Q8_0 path is runq.c's, by the goldens):
     * in one worker (its 64-bit packed kernel) and split across two.
     */
    @Test
    void quantizedOnLoadTellsTheStoryOfTheCliQuantizedFile(@TempDir Path folder) throws Exception {
        Paths.DefaultModel fp32 = Paths.siteModel(FP32_TWIN);
        Path quantized = folder.resolve("q80.bin");
        Reference.quantize(fp32.model(), quantized);
        int steps = 128;
        String expected = Reference.jvmIds(quantized, fp32.tokenizer(), 1f, 0.9f, 7, steps, "Once");
        if (Reference.cliJar().isPresent()) { // built by the engine module earlier in the same reactor build
            Path cliQuantized = folder.resolve("cli-q80.bin");
            Reference.cliQuantize(Reference.cliJar().get(), fp32.model(), cliQuantized);
            assertEquals(-1L, java.nio.file.Files.mismatch(quantized, cliQuantized), "the CLI writes the same file");
            assertEquals(expected, Reference.cliIds(Reference.cliJar().get(), cliQuantized, fp32.tokenizer(), 1f, 0.9f, 7,
                    steps, "Once"));
        }
        assertTrue(expected.split(" ").length > 64, "a story of more than 64 tokens: " + expected);

        for (int workers : new int[] {1, 2}) {
            browser.open(server.url() + "?model=" + FP32_TWIN + "&q8=1&workers=" + workers
                    + "&seed=7&temperature=1&topp=0.9&steps=" + steps + "&prompt=Once");
            browser.awaitReady(LOAD);
            assertEquals("wasm", browser.engine());
            String facts = browser.element("facts").getAttribute("textContent");
            assertTrue(facts.contains("quantized on load"), facts);
            assertEquals(expected, generate(), workers + " worker(s)");
        }
    }

    @Test
    void stories260KOpenedAsLocalFilesGivesTheGoldenIds() throws IOException {
        GoldenCase golden = Reference.golden("s260k_topp");
        Path model = Paths.shared("llama2/models/" + golden.model());
        Path tokenizer = Paths.shared("llama2/models/" + golden.tokenizer());
        browser.open(server.url() + "?seed=" + golden.seed() + "&temperature=" + golden.temperature() + "&topp="
                + golden.topp() + "&steps=" + golden.steps() + "&prompt=" + encode(golden.prompt()));
        browser.awaitReady(LOAD);

        new Select(browser.element("model")).selectByVisibleText("Open files…");
        browser.element("model-file").sendKeys(model.toRealPath().toString());
        browser.element("tokenizer-file").sendKeys(tokenizer.toRealPath().toString());
        new org.openqa.selenium.support.ui.WebDriverWait(browser.driver(), LOAD)
                .until(d -> browser.element("facts").getAttribute("textContent").contains("vocabulary 512"));
        browser.awaitReady(LOAD);

        assertEquals(Reference.join(golden.ids()), generate());
    }

    @Test
    void stopAndEscapeEndTheStoryEarly() {
        // Seed 23's story (prompt "Once upon a time", temperature 0.8, top-p 0.9) fills the whole
        // context, as `llama2.jar slow.bin -n 0 -s 23 -t 0.8 -p 0.9 --ids` shows: it cannot end by
        // itself before Stop lands on a busy machine (seed 3's ended after 143 tokens, and once did).
        browser.open(server.url() + "?model=slow&steps=0&seed=23");
        browser.awaitReady(LOAD);

        browser.element("generate").click();
        awaitTokens(3);
        browser.element("stop").click();
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        assertTrue(browser.element("status").getText().startsWith("Stopped"), browser.element("status").getText());
        assertTrue(positions() < SLOW.seqLen(), "stopped before the context was full");

        browser.element("prompt").sendKeys(Keys.chord(Keys.CONTROL, Keys.ENTER));
        awaitTokens(3); // of the new story: the page says 'generating' again
        browser.element("prompt").sendKeys(Keys.ESCAPE);
        assertEquals("done", browser.awaitState(GENERATE, "done", "error"));
        assertTrue(browser.element("status").getText().startsWith("Stopped"), browser.element("status").getText());
        assertTrue(positions() < SLOW.seqLen(), "stopped before the context was full");
    }

    @Test
    void aReloadTakesTheModelFromTheBrowsersCache() {
        String model = "/" + site(Paths.defaultModel().model());
        String tokenizer = "/" + site(Paths.defaultModel().tokenizer());
        browser.open(server.url());
        browser.awaitReady(LOAD);
        int modelDownloads = server.requests(model);
        int tokenizerDownloads = server.requests(tokenizer);
        assertTrue(modelDownloads >= 1 && tokenizerDownloads >= 1, "both files were downloaded once");

        browser.driver().navigate().refresh();
        browser.awaitReady(LOAD);
        assertEquals(modelDownloads, server.requests(model), "no second download of the model");
        assertEquals(tokenizerDownloads, server.requests(tokenizer), "nor of the tokenizer");
        assertTrue(browser.element("progress-text").getAttribute("textContent").contains("storage"),
                "the page says where the model came from");
    }

    @Test
    void clearingTheCacheMakesTheNextVisitDownloadAgain() {
        String model = "/" + site(Paths.defaultModel().model());
        browser.open(server.url());
        browser.awaitReady(LOAD);
        int downloads = server.requests(model);

        browser.element("advanced").findElement(org.openqa.selenium.By.tagName("summary")).click();
        browser.element("clear-cache").click();
        new org.openqa.selenium.support.ui.WebDriverWait(browser.driver(), LOAD)
                .until(d -> browser.element("status").getText().startsWith("Downloaded models forgotten"));
        browser.driver().navigate().refresh();
        browser.awaitReady(LOAD);
        assertEquals(downloads + 1, server.requests(model));
    }

    @Test
    void theJavaScriptBuildRunsToo() throws IOException {
        browser.open(server.url() + "?engine=js&seed=7&steps=40&prompt=" + encode("The cat"));
        browser.awaitReady(LOAD);
        assertEquals("js", browser.engine());
        assertEquals("JavaScript", browser.element("engine").getText());

        String[] ids = generate().split(" ");

        assertEquals(41, ids.length);
        // JavaScript computes float arithmetic in double precision, so only the prompt part is
        // sure to match the JVM; the samples may differ in rare near-ties.
        String jvm = Reference.jvmIds(Paths.defaultModel().model(), Paths.defaultModel().tokenizer(), 1f, 0.9f, 7, 3,
                "The cat");
        assertTrue(String.join(" ", ids).startsWith(jvm.substring(0, jvm.lastIndexOf(' '))), jvm);
    }

    @Test
    void aFailedDownloadIsExplained() {
        browser.open(server.url() + "?model=missing");
        assertEquals("error", browser.awaitState(LOAD, "ready", "error"));
        String status = browser.element("status").getText();
        // Model and tokenizer download side by side; whichever fails first is reported.
        assertTrue(status.matches("Could not download the (model|tokenizer) of Test model missing: .*404.*"), status);
    }

    @Test
    void theWasmEngineExplainsABrokenModelFile() {
        browser.open(server.url() + "?model=broken");
        assertEquals("error", browser.awaitState(LOAD, "ready", "error"));
        assertEquals("wasm", browser.engine());
        String status = browser.element("status").getText();
        assertTrue(status.startsWith("broken.bin: size ") && status.contains("does not match the header"), status);
    }

    @Test
    void anUnknownModelInTheLinkFallsBackToTheDefault() {
        browser.open(server.url() + "?model=no-such-model");
        browser.awaitReady(LOAD);
        assertEquals(Paths.defaultModel().id(), new Select(browser.element("model")).getFirstSelectedOption().getAttribute("value"));
        assertTrue(browser.element("status").getText().contains("no-such-model"), browser.element("status").getText());
    }

    @Test
    void theWorkerFollowsItsDocumentedProtocolWithUrls() {
        browser.open(server.url());
        browser.awaitReady(LOAD);
        String model = site(Paths.defaultModel().model());
        String tokenizer = site(Paths.defaultModel().tokenizer());
        // A page of one's own can drive worker.js directly: load by URL, generate, collect messages.
        browser.driver().manage().timeouts().scriptTimeout(GENERATE);
        @SuppressWarnings("unchecked")
        List<String> types = (List<String>) ((org.openqa.selenium.JavascriptExecutor) browser.driver()).executeAsyncScript(
                        "var done = arguments[arguments.length - 1];"
                        + "var seen = []; var w = new Worker('worker.js?engine=wasm');"
                        + "w.onmessage = function (e) { var m = e.data; seen.push(m.type + (m.type === 'engine' ? ':' + m.engine : ''));"
                        + "  if (m.type === 'ready') { w.postMessage({type: 'generate', prompt: 'The dog', temperature: 0,"
                        + "      topp: 0.9, seed: 1, steps: 12}); }"
                        + "  if (m.type === 'done') { seen.push('ids:' + m.ids.length + ':' + m.reason); w.terminate(); done(seen); }"
                        + "  if (m.type === 'error') { seen.push(m.message); w.terminate(); done(seen); } };"
                        + "w.postMessage({type: 'load', model: '" + model + "', tokenizer: '" + tokenizer + "'});");
        assertEquals("engine:wasm", types.get(0));
        assertTrue(types.contains("progress") && types.contains("ready") && types.contains("token"), types.toString());
        String last = types.get(types.size() - 1);
        assertTrue(last.equals("ids:13:steps") || last.endsWith(":bos"), types.toString());
    }

    private String generate() {
        browser.element("generate").click();
        String state = browser.awaitState(GENERATE, "done", "error");
        assertEquals("done", state, browser.element("status").getText());
        return browser.element("output").getAttribute("data-ids");
    }

    /**
     * Returns as soon as the story being written shows {@code count} tokens, told by the page's
     * own observer (a poll from here could come late on a busy machine, after the story ended);
     * the count of a finished story before it does not count.
     */
    private void awaitTokens(int count) {
        browser.driver().manage().timeouts().scriptTimeout(GENERATE);
        ((org.openqa.selenium.JavascriptExecutor) browser.driver()).executeAsyncScript(
                "var done = arguments[arguments.length - 1], wanted = arguments[0];"
                + "var count = document.getElementById('count');"
                + "var reached = function () { return document.body.dataset.state === 'generating'"
                + "  && parseInt(count.textContent, 10) >= wanted; };"
                + "if (reached()) { done(); return; }"
                + "var watch = new MutationObserver(function () { if (reached()) { watch.disconnect(); done(); } });"
                + "watch.observe(document.body, {attributes: true, attributeFilter: ['data-state'], childList: true,"
                + "  characterData: true, subtree: true});", count);
    }

    private int positions() {
        return browser.element("output").getAttribute("data-ids").split(" ").length;
    }

    /** A file's path inside the site, as the page requests it. */
    private static String site(Path file) {
        return Paths.site().relativize(file).toString().replace('\\', '/');
    }

    private static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
