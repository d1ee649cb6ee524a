package llama2.web;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import llama2.engine.Config;
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import llama2.web.support.TestModels;

/**
 * Measures tokens per second in headless Chromium, the way a visitor meets them: the page, the
 * worker, Wasm GC or JavaScript. Models: the bundled default and a random model of
 * stories15M's shape (dim 288, 6 layers, vocabulary 32000), written by the engine's writer.
 *
 * <p>Run with {@code ./web/bench} (or {@code mvn -pl web test-compile exec:java@bench}).
 * tok/s is the page's own figure: like run.c, it leaves out the first token.
 */
public final class Benchmark {
    static final Config STORIES_15M_SHAPE = new Config(288, 768, 6, 6, 6, 32000, 256, true);
    static final int RUNS = 3;

    private Benchmark() {
    }

    public static void main(String[] args) throws IOException {
        Path site = Path.of(args.length > 0 ? args[0] : "web/target/site");
        Path overlay = Files.createTempDirectory("llama2-bench");
        System.out.println("writing a random model of stories15M's shape…");
        new TestModels(overlay)
                .withSiteModels(site.resolve("models/models.json"))
                .addRandom("random15M", STORIES_15M_SHAPE, 0)
                .writeManifest();
        try (DevServer server = new DevServer(0, List.of(overlay, site));
             Chromium browser = Chromium.start()) {
            System.out.println("model        engine  steps  tok/s (best of " + RUNS + ")   all runs");
            for (String model : List.of("placeholder", "random15M")) {
                for (String engine : List.of("wasm", "js")) {
                    measure(browser, server, model, engine);
                }
            }
        } finally {
            try (var files = Files.walk(overlay)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void measure(Chromium browser, DevServer server, String model, String engine) {
        browser.open(server.url() + "?model=" + model + "&engine=" + engine
                + "&steps=256&temperature=1&topp=0.9&seed=1&prompt=");
        browser.awaitReady(Duration.ofMinutes(2));
        double best = 0;
        StringBuilder all = new StringBuilder();
        for (int run = 0; run < RUNS; run++) {
            browser.element("generate").click();
            String state = browser.awaitState(Duration.ofMinutes(10), "done", "error");
            if (!state.equals("done")) {
                throw new IllegalStateException(model + " on " + engine + ": " + browser.element("status").getText());
            }
            double tokps = Double.parseDouble(browser.element("output").getAttribute("data-tokps"));
            best = Math.max(best, tokps);
            all.append(String.format(Locale.ROOT, " %.1f", tokps));
        }
        int steps = browser.element("output").getAttribute("data-ids").split(" ").length - 1;
        System.out.println(String.format(Locale.ROOT, "%-12s %-7s %5d  %8.1f            %s",
                model, engine, steps, best, all.toString().trim()));
    }
}
