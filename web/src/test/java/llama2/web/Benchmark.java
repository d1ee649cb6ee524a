package llama2.web;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import llama2.engine.Config;
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import llama2.web.support.Paths;
import llama2.web.support.TestModels;

/**
 * Measures tokens per second in headless Chromium, the way a visitor meets them: the page, the
 * worker, Wasm GC or JavaScript. Models: the bundled default and a random model of
 * stories15M's shape (dim 288, 6 layers, vocabulary 32000), written by the engine's writer in
 * fp32 and in Q8_0.
 *
 * <p>Run with {@code ./web/bench} (or {@code mvn -pl web test-compile exec:java@bench}).
 * tok/s is the page's own figure: like run.c, it leaves out the first token. On a shared machine
 * that figure depends on what else runs, so a second one divides the tokens by the CPU time of
 * the busiest browser thread, the worker (read from /proc): roughly what an idle machine would
 * show. The
 * engine on this JVM is measured the same two ways, for comparison.
 *
 * <p>{@code ./web/bench workers [15M 42M 110M]} measures instead a model split across workers
 * ({@code ?workers=N}): random models of stories15M/42M/110M's shapes in fp32 and Q8_0, greedy,
 * 1 and 2 workers sharing memory (the page cross-origin isolated), interleaved round by round so
 * a busy machine slows every configuration alike; it reports median tok/s, the share of a core
 * the page's main thread used while the story was written, the median of each round's ratio to
 * one worker, and whether every configuration produced the same ids. With
 * {@code baseline=DIR} (another build's {@code web/target/site}) every configuration also runs on
 * that build, interleaved, and each gets its ratio to it. The browser's threads are given this
 * JVM's niceness ({@link Priority}): run it as {@code nice -n -5 ./web/bench workers …} on a
 * machine shared with builds.
 */
public final class Benchmark {
    static final Config STORIES_15M_SHAPE = new Config(288, 768, 6, 6, 6, 32000, 256, true);
    static final int RUNS = 3;

    private Benchmark() {
    }

    public static void main(String[] args) throws IOException {
        Path site = Path.of(args.length > 0 ? args[0] : "web/target/site");
        if (args.length > 1 && args[1].equals("workers")) {
            Workers.main(site, List.of(args).subList(2, args.length));
            return;
        }
        Path overlay = Files.createTempDirectory("llama2-bench");
        System.out.println("writing a random model of stories15M's shape…");
        new TestModels(overlay)
                .withSiteModels(site.resolve("models/models.json"))
                .addRandom("random15M", STORIES_15M_SHAPE, 0)
                .addRandom("random15M-q80", STORIES_15M_SHAPE, 2)
                .writeManifest();
        try (DevServer server = new DevServer(0, List.of(overlay, site));
             Chromium browser = Chromium.start()) {
            System.out.println("model              engine  sampling  steps   tok/s  tok/s per CPU-second   (best of " + RUNS + ")");
            for (String model : List.of(Paths.defaultModel(site).id(), "random15M")) {
                for (String engine : List.of("wasm", "js")) {
                    measure(browser, server, model, engine, "temperature=1&topp=0.9");
                }
            }
            // A random model's probabilities are nearly flat, so top-p sorts all 32000 of them
            // at every token (a trained model keeps a few): greedy shows the forward pass alone.
            for (String engine : List.of("wasm", "js")) {
                measure(browser, server, "random15M", engine, "temperature=0");
                measure(browser, server, "random15M-q80", engine, "temperature=0");
            }
            measureJvm();
        } finally {
            try (var files = Files.walk(overlay)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void measure(Chromium browser, DevServer server, String model, String engine, String sampling) {
        browser.open(server.url() + "?model=" + model + "&engine=" + engine + "&steps=256&seed=1&prompt=&" + sampling);
        browser.awaitReady(Duration.ofMinutes(2));
        double best = 0;
        double bestPerCpu = 0;
        int steps = 0;
        for (int run = 0; run < RUNS; run++) {
            Map<String, Long> cpuBefore = browserThreadTicks(false);
            browser.element("generate").click();
            String state = browser.awaitState(Duration.ofMinutes(10), "done", "error");
            long cpuTicks = busiestThreadTicks(cpuBefore, browserThreadTicks(false));
            if (!state.equals("done")) {
                throw new IllegalStateException(model + " on " + engine + ": " + browser.element("status").getText());
            }
            best = Math.max(best, Double.parseDouble(browser.element("output").getAttribute("data-tokps")));
            steps = browser.element("output").getAttribute("data-ids").split(" ").length - 1;
            if (cpuTicks > 0) {
                bestPerCpu = Math.max(bestPerCpu, steps / (cpuTicks / (double) TICKS_PER_SECOND));
            }
        }
        report(model, engine, sampling.startsWith("temperature=0") ? "greedy" : "top-p", steps, best, bestPerCpu);
    }

    /** The forward pass on this JVM, after a warm-up, timed by wall clock and by thread CPU time. */
    private static void measureJvm() {
        llama2.engine.Transformer transformer = new llama2.engine.Transformer(
                llama2.engine.Weights.random(STORIES_15M_SHAPE, 1));
        var threads = java.lang.management.ManagementFactory.getThreadMXBean();
        double best = 0;
        double bestPerCpu = 0;
        for (int run = 0; run < RUNS + 1; run++) {
            long wall = System.nanoTime();
            long cpu = threads.getCurrentThreadCpuTime();
            for (int pos = 0; pos < STORIES_15M_SHAPE.seqLen(); pos++) {
                transformer.forward(3 + pos, pos);
            }
            if (run > 0) { // the first run warms up the JIT compiler
                best = Math.max(best, STORIES_15M_SHAPE.seqLen() / ((System.nanoTime() - wall) / 1e9));
                bestPerCpu = Math.max(bestPerCpu,
                        STORIES_15M_SHAPE.seqLen() / ((threads.getCurrentThreadCpuTime() - cpu) / 1e9));
            }
        }
        report("random15M", "jvm", "none", STORIES_15M_SHAPE.seqLen(), best, bestPerCpu);
    }

    private static void report(String model, String engine, String sampling, int steps, double tokps, double perCpu) {
        System.out.println(String.format(Locale.ROOT, "%-18s %-7s %-8s  %5d  %6.1f  %8.1f",
                model, engine, sampling, steps, tokps, perCpu));
    }

    /** Linux reports process CPU time in clock ticks of 1/100 s. */
    static final int TICKS_PER_SECOND = 100;

    /**
     * User + system CPU ticks of each thread of the processes this JVM started (Chromium and its
     * helpers), or only of the renderers' main threads (each page's: the thread that runs its
     * scripts, layout and paint; on Linux it keeps the process's name and id).
     */
    static Map<String, Long> browserThreadTicks(boolean pageThreads) {
        return browserThreadTicks(pageThreads, "");
    }

    /** As above, of the threads whose name starts with {@code name} (Chromium's workers: "DedicatedWorker"). */
    static Map<String, Long> browserThreadTicks(boolean pageThreads, String name) {
        Map<String, Long> ticks = new HashMap<>();
        ProcessHandle.current().descendants().forEach(process -> {
            if (pageThreads && !isRenderer(process.pid())) {
                return;
            }
            try (var tasks = Files.list(Path.of("/proc/" + process.pid() + "/task"))) {
                tasks.forEach(task -> {
                    try {
                        if (pageThreads && !task.getFileName().toString().equals(String.valueOf(process.pid()))) {
                            return;
                        }
                        if (!name.isEmpty() && !Files.readString(task.resolve("comm")).startsWith(name)) {
                            return;
                        }
                        String stat = Files.readString(task.resolve("stat"));
                        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                        ticks.put(task.toString(), Long.parseLong(fields[11]) + Long.parseLong(fields[12]));
                    } catch (IOException | RuntimeException gone) {
                        // the thread ended in between
                    }
                });
            } catch (IOException | RuntimeException gone) {
                // the process ended in between
            }
        });
        return ticks;
    }

    private static boolean isRenderer(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/cmdline")).contains("--type=renderer");
        } catch (IOException | RuntimeException gone) {
            return false;
        }
    }

    static long busiestThreadTicks(Map<String, Long> before, Map<String, Long> after) {
        long busiest = 0;
        for (Map.Entry<String, Long> thread : after.entrySet()) {
            busiest = Math.max(busiest, thread.getValue() - before.getOrDefault(thread.getKey(), 0L));
        }
        return busiest;
    }
}
