package llama2.web;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.Weights;
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import llama2.web.support.TestModels;

/**
 * {@code ./web/bench workers}: tok/s of a model split across workers in headless Chromium, shape
 * × format × workers × transport, interleaved (see {@link Benchmark}).
 */
final class Workers {
    static final Map<String, Config> SHAPES = new LinkedHashMap<>();

    static {
        SHAPES.put("15M", Benchmark.STORIES_15M_SHAPE);
        SHAPES.put("42M", new Config(512, 1376, 8, 8, 8, 32000, 1024, true));
        SHAPES.put("110M", new Config(768, 2048, 12, 12, 12, 32000, 1024, true));
    }

    static int rounds = 3;
    static int steps = 256;

    /** One configuration: a page URL's settings, on this build's site or the baseline's. */
    record Setup(String shape, String format, int workers, String transport, boolean baseline) {
        Setup(String shape, String format, int workers, String transport) {
            this(shape, format, workers, transport, false);
        }

        String model() {
            return "random" + shape + "-" + format;
        }

        String query() {
            return "?model=" + model() + "&workers=" + workers + (transport.equals("messages") ? "&shared=0" : "")
                    + "&temperature=0&steps=" + steps + "&seed=1&prompt=";
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-5s %-5s %d  %-13s%s", shape, format, workers,
                    workers == 1 ? "-" : transport, baseline ? " baseline" : "");
        }
    }

    private Workers() {
    }

    /**
     * {@code args}: shapes (15M, 42M, 110M; default all), transports ("shared", "messages";
     * default both), {@code steps=N} (default 256), {@code rounds=N} (default 3) and
     * {@code baseline=DIR}: another build's site (say, of the commit before a change), every
     * configuration run on it too, interleaved, and compared.
     */
    static void main(Path site, List<String> args) throws IOException {
        Path baseline = null;
        for (String arg : args) {
            if (arg.startsWith("baseline=")) {
                baseline = Path.of(arg.substring(9));
            } else if (arg.startsWith("steps=")) {
                steps = Integer.parseInt(arg.substring(6));
            } else if (arg.startsWith("rounds=")) {
                rounds = Integer.parseInt(arg.substring(7));
            }
        }
        List<String> chosen = args.stream().filter(SHAPES::containsKey).toList();
        chosen = chosen.isEmpty() ? new ArrayList<>(SHAPES.keySet()) : chosen;
        List<String> transports = new ArrayList<>();
        if (args.contains("shared") || !args.contains("messages")) {
            transports.add("shared memory");
        }
        if (args.contains("messages") || !args.contains("shared")) {
            transports.add("messages");
        }
        // Random models take minutes to write: kept in the build folder for the next run (never committed).
        Path overlay = site.resolveSibling("bench-models");
        TestModels models = new TestModels(overlay);
        List<Setup> setups = new ArrayList<>();
        for (String shape : chosen) {
            Config config = SHAPES.get(shape);
            String fp32 = "random" + shape + "-fp32";
            String q80 = "random" + shape + "-q80";
            if (!Files.exists(models.model(q80))) {
                System.out.println("writing random models of stories" + shape + "'s shape (fp32 and Q8_0)…");
                Weights weights = Weights.random(config, 1);
                write(models.model(fp32), weights, 1, 0);
                write(models.model(q80), weights, 2, Checkpoint.defaultGroupSize(config));
                try (OutputStream out = Files.newOutputStream(models.tokenizer(fp32))) {
                    TestModels.wordTokenizer(config.vocabSize()).write(out);
                }
                Files.copy(models.tokenizer(fp32), models.tokenizer(q80), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            for (String id : List.of(fp32, q80)) {
                models.addExisting(id);
                setups.add(new Setup(shape, id.substring(id.indexOf('-') + 1), 1, "-"));
                for (String transport : transports) {
                    setups.add(new Setup(shape, id.substring(id.indexOf('-') + 1), 2, transport));
                }
            }
        }
        models.writeManifest();
        if (baseline != null) {
            List<Setup> both = new ArrayList<>();
            for (Setup setup : setups) {
                both.add(setup);
                both.add(new Setup(setup.shape(), setup.format(), setup.workers(), setup.transport(), true));
            }
            setups = both;
        }
        run(site, baseline, overlay, setups);
    }

    private static void write(Path file, Weights weights, int version, int groupSize) throws IOException {
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            Checkpoint.write(weights, version, groupSize, out);
        }
    }

    private static void run(Path site, Path baseline, Path overlay, List<Setup> setups) throws IOException {
        Map<Setup, List<Double>> tokps = new LinkedHashMap<>();
        Map<Setup, String> ids = new LinkedHashMap<>();
        Map<Setup, List<Double>> mainThread = new LinkedHashMap<>();
        try (DevServer server = new DevServer(0, List.of(overlay, site));
             DevServer old = new DevServer(0, List.of(overlay, baseline == null ? site : baseline));
             Chromium browser = Chromium.start()) {
            for (int round = 1; round <= rounds; round++) {
                System.out.println("round " + round + " of " + rounds);
                for (Setup setup : setups) {
                    browser.open((setup.baseline() ? old : server).url() + setup.query());
                    if (round == 1) {
                        acceptBigDownload(browser);
                    }
                    browser.awaitReady(Duration.ofMinutes(5));
                    String shards = (String) browser.script("return document.body.dataset.shards");
                    int reniced = Priority.matchThisProcess();
                    browser.script(LISTEN_FOR_TIMING);
                    Map<String, Long> mainBefore = Benchmark.browserThreadTicks(true);
                    Map<String, Long> workersBefore = Benchmark.browserThreadTicks(false, "DedicatedWorker");
                    Map<String, Long> allBefore = Benchmark.browserThreadTicks(false);
                    browser.element("generate").click();
                    String state = browser.awaitState(Duration.ofMinutes(10), "done", "error");
                    Map<String, Long> workersAfter = Benchmark.browserThreadTicks(false, "DedicatedWorker");
                    Map<String, Long> allAfter = Benchmark.browserThreadTicks(false);
                    long mainTicks = Benchmark.busiestThreadTicks(mainBefore, Benchmark.browserThreadTicks(true));
                    if (!state.equals("done")) {
                        throw new IllegalStateException(setup + ": " + browser.element("status").getText());
                    }
                    if (round == 1 && setup.equals(setups.get(0)) && reniced > 0) {
                        System.out.println("  (" + reniced + " browser threads reniced to this JVM's niceness, "
                                + Priority.ofThisProcess() + ")");
                    }
                    double speed = Double.parseDouble(browser.element("output").getAttribute("data-tokps"));
                    int tokens = browser.element("output").getAttribute("data-ids").split(" ").length - 1;
                    double main = mainTicks / (double) Benchmark.TICKS_PER_SECOND / ((tokens - 1) / speed);
                    System.out.println(String.format(Locale.ROOT, "  %s  %6.1f tok/s  page's main thread %3.0f%% of a core"
                            + "  (workers used: %s)", setup, speed, 100 * main, shards));
                    String where = whereTimeWent(browser.script("return window.benchTiming"), tokens);
                    if (!where.isEmpty()) {
                        System.out.println("    per token, ms: " + where);
                    }
                    System.out.println("    CPU per token, ms: " + cpuPerToken(workersBefore, workersAfter, allBefore, allAfter,
                            tokens, (tokens - 1) / speed));
                    tokps.computeIfAbsent(setup, k -> new ArrayList<>()).add(speed);
                    mainThread.computeIfAbsent(setup, k -> new ArrayList<>()).add(main);
                    ids.put(setup, browser.element("output").getAttribute("data-ids"));
                }
            }
        }
        System.out.println();
        System.out.println("shape format workers transport   median tok/s   main thread   vs 1 worker (median of rounds)"
                + "   same ids as 1 worker" + (baseline == null ? "" : "   vs baseline (median of rounds)"));
        for (Setup setup : setups) {
            Setup one = new Setup(setup.shape(), setup.format(), 1, "-", setup.baseline());
            List<Double> ratios = new ArrayList<>();
            for (int r = 0; r < tokps.get(setup).size(); r++) {
                ratios.add(tokps.get(setup).get(r) / tokps.get(one).get(r));
            }
            String versus = "";
            if (baseline != null && !setup.baseline()) {
                List<Double> gains = new ArrayList<>();
                List<Double> before = tokps.get(new Setup(setup.shape(), setup.format(), setup.workers(), setup.transport(), true));
                for (int r = 0; r < tokps.get(setup).size(); r++) {
                    gains.add(tokps.get(setup).get(r) / before.get(r));
                }
                versus = String.format(Locale.ROOT, "                    %5.2fx", median(gains));
            }
            System.out.println(String.format(Locale.ROOT, "%s  %8.1f        %4.0f%%         %5.2fx                            %s%s",
                    setup, median(tokps.get(setup)), 100 * median(mainThread.get(setup)), median(ratios),
                    ids.get(setup).equals(ids.get(one)) ? "yes" : "NO", versus));
        }
    }

    /** Keeps the timing of the worker's 'done' message (worker.js) where {@link #whereTimeWent} reads it. */
    private static final String LISTEN_FOR_TIMING = "window.benchTiming = null; engineWorker.addEventListener('message', "
            + "(event) => { if (event.data.type === 'done') { window.benchTiming = event.data.timing; } });";

    /**
     * The 'done' message's timing per token: the lead's step() (forward pass and sampling), and with
     * shared memory each worker's compute, copy into shared memory, wait at the exchanges and time
     * between forward passes (static/shards.js).
     */
    @SuppressWarnings("unchecked")
    private static String whereTimeWent(Object timing, int tokens) {
        if (!(timing instanceof Map<?, ?> map) || tokens <= 0) {
            return "";
        }
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "step %.2f",
                ((Number) map.get("step")).doubleValue() / tokens));
        if (map.get("shards") instanceof List<?> shards) {
            for (int i = 0; i < shards.size(); i++) {
                Map<String, Object> shard = (Map<String, Object>) shards.get(i);
                line.append(String.format(Locale.ROOT, " | worker %d: compute %.2f copy %.3f put %.3f wait %.2f + slept %.2f"
                                + " (%.1f of %d exchanges) between %.2f",
                        i + 1, number(shard, "compute") / tokens, number(shard, "copy") / tokens, number(shard, "put") / tokens,
                        number(shard, "wait") / tokens, number(shard, "slept") / tokens, number(shard, "sleeps") / tokens,
                        Math.round(number(shard, "exchanges") / tokens), number(shard, "between") / tokens));
            }
        }
        return line.toString();
    }

    /**
     * The CPU time of each worker thread that ran (Linux clock ticks, 10 ms), and of the browser's
     * other threads together, per token; beside the story's wall time per token.
     */
    private static String cpuPerToken(Map<String, Long> workersBefore, Map<String, Long> workersAfter,
                                      Map<String, Long> allBefore, Map<String, Long> allAfter, int tokens, double seconds) {
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "wall %.2f |", 1000 * seconds / (tokens - 1)));
        long workers = 0;
        for (Map.Entry<String, Long> thread : new java.util.TreeMap<>(workersAfter).entrySet()) {
            long ticks = thread.getValue() - workersBefore.getOrDefault(thread.getKey(), 0L);
            workers += ticks;
            if (ticks > 0) {
                line.append(String.format(Locale.ROOT, " worker %.2f", 1000.0 * ticks / Benchmark.TICKS_PER_SECOND / tokens));
            }
        }
        long all = 0;
        Map<String, Long> byName = new java.util.TreeMap<>();
        for (Map.Entry<String, Long> thread : allAfter.entrySet()) {
            long ticks = thread.getValue() - allBefore.getOrDefault(thread.getKey(), 0L);
            all += ticks;
            byName.merge(threadName(thread.getKey()), ticks, Long::sum);
        }
        line.append(String.format(Locale.ROOT, " | other browser threads %.2f:",
                1000.0 * (all - workers) / Benchmark.TICKS_PER_SECOND / tokens));
        byName.entrySet().stream().filter(e -> !e.getKey().startsWith("DedicatedWorker") && e.getValue() * 1000.0
                        / Benchmark.TICKS_PER_SECOND / tokens >= 0.1)
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .forEach(e -> line.append(String.format(Locale.ROOT, " %s %.2f", e.getKey(),
                        1000.0 * e.getValue() / Benchmark.TICKS_PER_SECOND / tokens)));
        return line.toString();
    }

    /** The name of a thread ("/proc/PID/task/TID"), with its process's kind: "renderer/Compositor". */
    private static String threadName(String task) {
        try {
            Path path = Path.of(task);
            String process = Files.readString(path.getParent().getParent().resolve("cmdline"));
            java.util.regex.Matcher type = java.util.regex.Pattern.compile("--type=([a-z-]+)").matcher(process);
            String kind = type.find() ? type.group(1) : process.contains("chromedriver") ? "driver" : "browser";
            return kind + "/" + Files.readString(path.resolve("comm")).strip();
        } catch (IOException | RuntimeException gone) {
            return "gone";
        }
    }

    private static double number(Map<String, Object> map, String key) {
        return ((Number) map.get(key)).doubleValue();
    }

    /** The page asks before it downloads more than 100 MB (only the first time: then it is stored). */
    private static void acceptBigDownload(Chromium browser) {
        try {
            new org.openqa.selenium.support.ui.WebDriverWait(browser.driver(), Duration.ofSeconds(3))
                    .until(org.openqa.selenium.support.ui.ExpectedConditions.alertIsPresent()).accept();
        } catch (org.openqa.selenium.TimeoutException noQuestion) {
            // small enough, or already stored
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(null);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
