package llama2.web.train;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import llama2.engine.Config;
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import llama2.web.support.Paths;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Training tokens/s of the Train view in headless Chromium with 1 and 2 workers, beside the same
 * trainer on the JVM (portable kernels, one thread, in this process), for the tiny and small
 * presets; then screenshots of the view after a run (1280×800 and 390×844, light and dark) into
 * {@code web/screenshots/}. A benchmark, not a test:
 * {@code mvn -q -pl web exec:java@train-bench} after the site is built.
 */
public final class TrainBench {
    private TrainBench() {}

    record Preset(String name, Config shape, int batch, int vocab, int steps) {}

    static final List<Preset> PRESETS = List.of(
            new Preset("tiny", new Config(64, 172, 5, 8, 4, 1, 256, true), 8, 512, 8),
            new Preset("small", new Config(128, 352, 6, 8, 8, 1, 256, true), 8, 2048, 4));

    public static void main(String[] args) throws Exception {
        Path site = Path.of(args.length > 0 ? args[0] : "target/site");
        Path text = Files.createTempFile("train-bench", ".txt");
        Files.writeString(text, firstStories(Paths.shared("data/tinystories/train.txt"), 400_000));
        byte[] bytes = Files.readAllBytes(text);
        try (DevServer server = new DevServer(0, List.of(site)); Chromium browser = Chromium.start()) {
            for (Preset p : PRESETS) {
                double jvm = jvmTokensPerSecond(p, bytes);
                double one = pageTokensPerSecond(browser, server, p, text, 1);
                double two = pageTokensPerSecond(browser, server, p, text, 2);
                System.out.printf(Locale.ROOT, "%-5s | JVM portable, 1 thread %6.0f tok/s | Chromium 1 worker %6.0f tok/s (%.2fx JVM)"
                        + " | 2 workers %6.0f tok/s (%.2fx 1 worker)%n", p.name(), jvm, one, one / jvm, two, two / one);
            }
            if (args.length > 1) {
                screenshots(browser, server, text, Path.of(args[1]));
            }
        }
    }

    /** The stories that begin in the first {@code bytes} of a text file. */
    static String firstStories(Path file, int bytes) throws java.io.IOException {
        String head = new String(Files.readAllBytes(file), 0, bytes, java.nio.charset.StandardCharsets.UTF_8);
        return head.substring(0, head.lastIndexOf("<|endoftext|>") + "<|endoftext|>".length()) + "\n";
    }

    /** The trainer the page runs, on the JVM: one step to warm up, then the timed ones. */
    static double jvmTokensPerSecond(Preset p, byte[] text) {
        byte[] tokenizer = Training.learnTokenizer(text, p.vocab());
        Training run = Training.scratch(text, tokenizer, p.shape(),
                new Training.Settings(p.steps() + 1, p.batch(), 1e-3f, 1, 1, 1337));
        run.trainer.trainStep();
        long start = System.nanoTime();
        for (int s = 0; s < p.steps(); s++) {
            run.trainer.trainStep();
        }
        return (double) p.steps() * p.batch() * p.shape().seqLen() / ((System.nanoTime() - start) / 1e9);
    }

    /** The page's own tokens/s (data-tokps) at the end of a run of p.steps() steps. */
    static double pageTokensPerSecond(Chromium browser, DevServer server, Preset p, Path text, int workers) {
        run(browser, server, p, text, workers, p.steps());
        return Double.parseDouble(browser.element("train-loss").getAttribute("data-tokps"));
    }

    static void run(Chromium browser, DevServer server, Preset p, Path text, int workers, int steps) {
        String url = server.url() + "?view=train&mode=scratch&preset=" + p.name() + "&steps=" + steps + "&workers=" + workers
                + "&batch=" + p.batch();
        browser.open(url);
        browser.script("indexedDB.deleteDatabase('llama2-train')");
        browser.open(url);
        browser.element("train-text").sendKeys(text.toAbsolutePath().toString());
        new WebDriverWait(browser.driver(), Duration.ofSeconds(30))
                .until(d -> browser.element("train-status").getText().contains("read"));
        browser.element("train-start").click();
        new WebDriverWait(browser.driver(), Duration.ofMinutes(20)).until(d -> List.of("done", "error")
                .contains(browser.script("return document.body.dataset.trainState")));
        if (!"done".equals(browser.script("return document.body.dataset.trainState"))) {
            throw new AssertionError(browser.element("train-status").getText());
        }
    }

    static void screenshots(Chromium browser, DevServer server, Path text, Path dir) throws Exception {
        Files.createDirectories(dir);
        run(browser, server, PRESETS.get(0), text, 2, 60);
        ChromeDriver driver = (ChromeDriver) browser.driver();
        for (String scheme : List.of("light", "dark")) {
            driver.executeCdpCommand("Emulation.setEmulatedMedia", Map.of("features",
                    List.of(Map.of("name", "prefers-color-scheme", "value", scheme))));
            for (int[] size : new int[][] {{1280, 800}, {390, 844}}) {
                driver.executeCdpCommand("Emulation.setDeviceMetricsOverride", Map.of("width", size[0], "height", size[1],
                        "deviceScaleFactor", 1, "mobile", size[0] < 600));
                browser.script("document.getElementById('train-status').scrollIntoView({block: 'start'})");
                Thread.sleep(300);
                Path file = dir.resolve("train-" + (size[0] < 600 ? "phone" : "desktop") + "-" + scheme + ".png");
                Files.write(file, driver.getScreenshotAs(OutputType.BYTES));
                System.out.println("wrote " + file);
            }
        }
    }
}
