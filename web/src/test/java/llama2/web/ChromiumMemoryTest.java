package llama2.web;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import llama2.engine.Config;
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import llama2.web.support.Paths;
import llama2.web.support.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Memory of a big model in the page: a file shaped like stories110M (fp32, 438 MB, random
 * weights written by the engine's writer) opened from local files adds about 1.3 times its
 * size to the browser's resident memory (the weights once, the 75 MB KV cache, the engine), and
 * with "Quantize to Q8_0 on load" about half its size. Resident memory is the sum of VmRSS over
 * the browser's processes, as the operating system counts it.
 */
class ChromiumMemoryTest {
    /** stories110M's shape; version 0, as Karpathy's file: 438,381,596 bytes. */
    static final Config STORIES110M = new Config(768, 2048, 12, 12, 12, 32000, 1024, true);
    static final Duration LOAD = Duration.ofMinutes(5);

    @TempDir
    static Path folder;
    static Path model;
    static Path tokenizer;
    static DevServer server;
    static Chromium browser;

    @BeforeAll
    static void start() throws IOException {
        TestModels models = new TestModels(folder);
        models.addRandom("shape110M", STORIES110M, 0);
        model = models.model("shape110M");
        tokenizer = models.tokenizer("shape110M");
        server = new DevServer(0, List.of(Paths.site()));
    }

    /** A fresh browser for each measurement, so no other page's memory comes or goes meanwhile. */
    @BeforeEach
    void startBrowser() throws IOException {
        browser = Chromium.start();
    }

    @AfterEach
    void closeBrowser() throws IOException {
        if (browser != null) {
            browser.close();
            browser = null;
        }
    }

    @AfterAll
    static void stop() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void anFp32ModelTakesItsOwnSizeOnce() throws Exception {
        long added = loadAndMeasure("", "version 0");
        // The issue asks for 1.3x; measured 1.27x to 1.32x (the weights, the 75 MB KV cache and
        // 50-60 MB of engine and garbage not yet collected); before this page kept three copies: 3.2x.
        assertTrue(added <= 1.4 * Files.size(model), "added " + mb(added) + " for a " + mb(Files.size(model)) + " file");
    }

    @Test
    void quantizedOnLoadItTakesHalfItsSize() throws Exception {
        long added = loadAndMeasure("&q8=1", "quantized on load");
        // The issue asks for 0.5x: the Q8_0 weights (110M int8 values and their scales, 123 MB,
        // 0.28x) plus the 75 MB KV cache (0.17x), and little else. 0.80x-0.83x while the WebAssembly
        // build repacked each Q8_0 matrix for its 64-bit kernel after loading (a second copy);
        // now the loader fills the packed layout row by row as the bytes arrive. Bound: 0.6x, as
        // the one-copy page measured 0.43x-0.57x before the repacking (engine, buffers and garbage
        // not yet collected vary from run to run on a loaded machine); the figure is printed above.
        assertTrue(added <= 0.6 * Files.size(model), "added " + mb(added) + " for a " + mb(Files.size(model)) + " file");
    }

    /** Opens the page on the default model, then the big file from disk; returns the RSS it added. */
    private long loadAndMeasure(String query, String format) throws Exception {
        browser.open(server.url() + "?steps=3&prompt=a&workers=1" + query); // one worker: shards read a File whole
        browser.awaitReady(Duration.ofSeconds(60));
        Thread.sleep(1000);
        long before = browserRss();
        AtomicLong peak = new AtomicLong(before);
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peak.accumulateAndGet(browserRss(), Math::max);
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        sampler.start();
        try {
            new Select(browser.element("model")).selectByVisibleText("Open files…");
            browser.element("model-file").sendKeys(model.toAbsolutePath().toString());
            browser.element("tokenizer-file").sendKeys(tokenizer.toAbsolutePath().toString());
            new WebDriverWait(browser.driver(), LOAD)
                    .withMessage(() -> "status: " + browser.element("status").getText() + " (a read stalled at byte "
                            + browser.script("return document.body.dataset.readStalled || 'none'") + ")")
                    .until(d -> facts().contains("dim 768")
                    || "error".equals(browser.state()));
            assertTrue(facts().contains(format),
                    browser.element("status").getText() + " / " + facts());
            Thread.sleep(2000);
        } finally {
            sampler.interrupt();
            sampler.join();
        }
        long after = browserRss();
        long size = Files.size(model);
        System.out.printf("browser RSS%s: %s before, %s after loading a %s file: +%s (%.2fx), peak +%s (%.2fx)%n",
                query, mb(before), mb(after), mb(size), mb(after - before), (after - before) / (double) size,
                mb(peak.get() - before), (peak.get() - before) / (double) size);
        browser.element("generate").click();
        String state = browser.awaitState(LOAD, "done", "error");
        assertTrue(state.equals("done"), browser.element("status").getText());
        return after - before;
    }

    private static String facts() {
        return browser.element("facts").getAttribute("textContent");
    }

    /** VmRSS summed over the Chromium processes this test started (the driver excluded). */
    static long browserRss() {
        return ProcessHandle.current().descendants()
                .filter(p -> p.info().command().map(c -> c.contains("chrom") && !c.contains("chromedriver")).orElse(false))
                .mapToLong(p -> residentBytes(p.pid()))
                .sum();
    }

    private static long residentBytes(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return 1024 * Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException gone) {
            // the process ended meanwhile
        }
        return 0;
    }

    private static String mb(long bytes) {
        return String.format("%.1f MB", bytes / 1e6);
    }
}
