package llama2.web.train;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import llama2.engine.Config;
import llama2.train.Preset;
import llama2.web.Priority;
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import llama2.web.support.Paths;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Training tokens/s of the Train view in headless Chromium with 1 and 2 workers, beside the same
 * trainer on the JVM (the portable kernels' loop the browser runs, {@code PortableKernels.TILES}, one
 * thread, in this process; {@code --kernels portable} runs another loop, the same bits faster), for the tiny and small
 * presets, each the median step's (so neither the first step nor the validation between steps
 * counts), and the parts of a step in the page (the workers' gradients, the exchange and AdamW
 * step, the page's own work), from the times the workers were told and answered; then the command-line trainer's own {@code bench} of the same shapes (its fast and
 * portable kernels, on one thread and all cores). A benchmark, not a test:
 * {@code mvn -q -pl web -am exec:java@train-bench} after a build. With {@code -Dbaseline=DIR}
 * (another build's site) it compares the two pages instead, in turn (see {@link #compare};
 * {@code -Drounds=N}, 2 unless said).
 *
 * <p>Run it at {@code nice -n -5} on a machine shared with other work: Chromium puts the threads of
 * its renderers (the page and its workers) back to niceness 0, so the bench gives them its own
 * again every half second ({@link Priority#matchThisProcess}); otherwise two workers, which need
 * both cores, lose a share of them to every other runnable thread and one worker does not.
 */
public final class TrainBench {
    private TrainBench() {}

    /** A preset of the page as benchmarked: a batch of 8 for both, and the steps timed. */
    record Benched(Preset preset, int batch, int steps) {
        String name() {
            return preset.label();
        }

        Config shape() {
            return preset.config();
        }
    }

    static final List<Benched> PRESETS = List.of(new Benched(Preset.TINY, 8, 9), new Benched(Preset.SMALL, 8, 5));

    public static void main(String[] args) throws Exception {
        Path site = Path.of(args.length > 0 ? args[0] : "target/site");
        Path text = Files.createTempFile("train-bench", ".txt");
        Files.writeString(text, firstStories(Paths.shared("data/tinystories/train.txt"), 400_000));
        byte[] bytes = Files.readAllBytes(text);
        keepBrowserAtThisNiceness();
        if (args.length > 1 && args[1] != null && !args[1].isBlank()) { // an empty -Dbaseline comes as null
            compare(site, Path.of(args[1]), text, Integer.getInteger("rounds", 2));
            return;
        }
        try (DevServer server = new DevServer(0, List.of(site)); Chromium browser = Chromium.start()) {
            for (Benched p : PRESETS) {
                double jvm = jvmTokensPerSecond(p, bytes);
                PageSpeed one = pageSpeed(browser, server, p, text, 1);
                PageSpeed two = pageSpeed(browser, server, p, text, 2);
                System.out.printf(Locale.ROOT, "%-5s | JVM, the page's loop, 1 thread %6.0f tok/s | Chromium 1 worker %6.0f tok/s (%.2fx JVM)"
                        + " | 2 workers %6.0f tok/s (%.2fx 1 worker)%n", p.name(), jvm, one.tokensPerSecond(),
                        one.tokensPerSecond() / jvm, two.tokensPerSecond(), two.tokensPerSecond() / one.tokensPerSecond());
                System.out.printf(Locale.ROOT, "        1 worker: median step %.3f s = the worker's step %.3f s + the page until"
                        + " the next %.3f s%n", one.step(), one.compute(), one.between());
                System.out.printf(Locale.ROOT, "        2 workers: median step %.3f s = gradients, side by side, %.3f s + exchange"
                        + " and AdamW %.3f s + the page until the next %.3f s%n", two.step(), two.compute(), two.exchange(),
                        two.between());
            }
            if (TrainCli.jar().isPresent()) {
                System.out.print(TrainCli.cli(TrainCli.jar().get(), "bench", "--configs",
                        String.join(",", PRESETS.stream().map(Benched::name).toList()), "--batch", "" + PRESETS.get(0).batch(),
                        "--steps", "" + PRESETS.get(1).steps()));
            }
        }
    }

    /** Gives the browser's threads this JVM's niceness now and every half second, workers started later too. */
    static void keepBrowserAtThisNiceness() {
        Thread renicer = new Thread(() -> {
            while (true) {
                Priority.matchThisProcess();
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "renice browser");
        renicer.setDaemon(true);
        renicer.start();
    }

    /**
     * This build's page against another build's ({@code -Dbaseline=DIR}, its site), in turn:
     * {@code rounds} runs of each per preset and number of workers, the tokens/s of each pair, the
     * median ratio, and this build's two workers against its one in the same round.
     */
    static void compare(Path site, Path baseline, Path text, int rounds) throws Exception {
        try (DevServer server = new DevServer(0, List.of(site)); DevServer other = new DevServer(0, List.of(baseline));
             Chromium browser = Chromium.start()) {
            for (Benched p : PRESETS) {
                double[][] mine = new double[3][rounds], theirs = new double[3][rounds];
                for (int r = 0; r < rounds; r++) {
                    for (int workers = 1; workers <= 2; workers++) {
                        mine[workers][r] = pageSpeed(browser, server, p, text, workers).tokensPerSecond();
                        theirs[workers][r] = pageSpeed(browser, other, p, text, workers).tokensPerSecond();
                        System.out.printf(Locale.ROOT, "%-5s %d worker%s: this build %6.0f tok/s, baseline %6.0f tok/s (%.2fx)%n",
                                p.name(), workers, workers == 1 ? " " : "s", mine[workers][r], theirs[workers][r],
                                mine[workers][r] / theirs[workers][r]);
                    }
                }
                for (int workers = 1; workers <= 2; workers++) {
                    double[] ratios = new double[rounds], scaling = new double[rounds];
                    for (int r = 0; r < rounds; r++) {
                        ratios[r] = mine[workers][r] / theirs[workers][r];
                        scaling[r] = mine[2][r] / mine[1][r];
                    }
                    System.out.printf(Locale.ROOT, "%-5s %d worker%s: median ratio to the baseline %.2fx%s%n", p.name(), workers,
                            workers == 1 ? " " : "s", median(ratios),
                            workers == 2 ? String.format(Locale.ROOT, "; this build's 2 workers / 1: %.2fx", median(scaling)) : "");
                }
            }
        }
    }

    /** The stories that begin in the first {@code bytes} of a text file. */
    static String firstStories(Path file, int bytes) throws java.io.IOException {
        String head = new String(Files.readAllBytes(file), 0, bytes, java.nio.charset.StandardCharsets.UTF_8);
        return head.substring(0, head.lastIndexOf("<|endoftext|>") + "<|endoftext|>".length()) + "\n";
    }

    /** The trainer the page runs, on the JVM: one step to warm up, then the timed ones; the median step's tokens/s. */
    static double jvmTokensPerSecond(Benched p, byte[] text) {
        byte[] tokenizer = Training.learnTokenizer(text, p.shape().vocabSize());
        Training run = Training.scratch(text, tokenizer, p.shape(),
                new Training.Settings(p.steps() + 1, p.batch(), 1e-3f, 1, 1, 1337));
        run.trainer.trainStep();
        double[] seconds = new double[p.steps()];
        for (int s = 0; s < p.steps(); s++) {
            long start = System.nanoTime();
            run.trainer.trainStep();
            seconds[s] = (System.nanoTime() - start) / 1e9;
        }
        return p.batch() * p.shape().seqLen() / median(seconds);
    }

    /** What the page's workers were told and answered, with the time (window.trainEvents), from Start on. */
    static final String RECORD_WORKERS = """
            window.trainEvents = [];
            const Original = window.Worker;
            let count = 0;
            window.Worker = function (url, options) {
              const w = new Original(url, options), id = count++;
              const post = w.postMessage.bind(w);
              w.postMessage = (m, transfer) => {
                window.trainEvents.push({id, type: m.type, sent: true, at: performance.now()});
                return post(m, transfer);
              };
              w.addEventListener('message', (e) => window.trainEvents.push({id, type: e.data.type, sent: false, at: performance.now()}));
              return w;
            };""";

    /**
     * Each step of the run (from its first 'step' or 'gradients' message to the last worker's
     * answer to 'step'): [began, gradients all back (several workers), ended], in ms.
     */
    static final String STEPS = """
            const workers = arguments[0], steps = [];
            let current = null, run = false;
            window.trainEvents.forEach((e) => {
              run = run || (e.sent && e.type === 'scratch');
              if (!run) { return; }
              if (e.sent && (e.type === 'step' || e.type === 'gradients') && (!current || current.end)) {
                current = {begin: e.at, computed: 0, end: 0, answers: 0};
                steps.push(current);
              } else if (!e.sent && e.type === 'gradients') {
                current.computed = e.at;
              } else if (!e.sent && e.type === 'step' && ++current.answers === workers) {
                current.end = e.at;
              }
            });
            return steps.map((s) => [s.begin, s.computed || s.end, s.end]);""";

    /** Tokens/s of the page's median step (begin to next begin), and its median parts in seconds. */
    record PageSpeed(double tokensPerSecond, double step, double compute, double exchange, double between) {}

    /**
     * The page's speed over a run of p.steps() + 1 steps, from the times its workers were told
     * and answered: the first step, which warms up, is not counted, nor (by the median) a
     * validation between two steps. A step is its workers' gradients (compute, side by side),
     * then the exchange (the page hands each the others' gradients; each adds them and takes the
     * AdamW step), then the page's own work until the next.
     */
    static PageSpeed pageSpeed(Chromium browser, DevServer server, Benched p, Path text, int workers) {
        run(browser, server, p, text, workers, p.steps() + 1, () -> browser.script(RECORD_WORKERS));
        @SuppressWarnings("unchecked")
        List<List<Number>> steps = (List<List<Number>>) browser.script(STEPS, workers);
        int n = steps.size() - 2; // the first step warms up; the last has no next (and may have been stopped)
        double[] interval = new double[n], compute = new double[n], exchange = new double[n], between = new double[n];
        for (int i = 0; i < n; i++) {
            List<Number> step = steps.get(i + 1), next = steps.get(i + 2);
            interval[i] = (next.get(0).doubleValue() - step.get(0).doubleValue()) / 1000;
            compute[i] = (step.get(1).doubleValue() - step.get(0).doubleValue()) / 1000;
            exchange[i] = (step.get(2).doubleValue() - step.get(1).doubleValue()) / 1000;
            between[i] = (next.get(0).doubleValue() - step.get(2).doubleValue()) / 1000;
        }
        double seconds = median(interval);
        return new PageSpeed(p.batch() * p.shape().seqLen() / seconds, seconds, median(compute), median(exchange), median(between));
    }

    static double median(double[] values) {
        double[] v = values.clone();
        java.util.Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** A run of the page from scratch; {@code beforeStart} runs once the text is read. */
    /**
     * A run of the page from scratch, set to {@link #LONG_RUN} steps, so that it checkpoints,
     * validates and samples as seldom as a real run, and stopped after {@code steps};
     * {@code beforeStart} runs once the text is read.
     */
    static void run(Chromium browser, DevServer server, Benched p, Path text, int workers, int steps, Runnable beforeStart) {
        String url = server.url() + "?view=train&mode=scratch&preset=" + p.name() + "&steps=" + LONG_RUN + "&workers=" + workers
                + "&batch=" + p.batch();
        browser.open(url);
        browser.script("indexedDB.deleteDatabase('llama2-train')");
        browser.open(url);
        browser.element("train-text").sendKeys(text.toAbsolutePath().toString());
        new WebDriverWait(browser.driver(), Duration.ofSeconds(30))
                .until(d -> browser.element("train-status").getText().contains("read"));
        beforeStart.run();
        browser.element("train-start").click();
        new WebDriverWait(browser.driver(), Duration.ofMinutes(20)).until(d -> "error".equals(state(browser))
                || browser.element("train-loss").getAttribute("data-losses").split(",").length >= steps);
        browser.element("train-stop").click();
        new WebDriverWait(browser.driver(), Duration.ofMinutes(5)).until(d -> List.of("paused", "error").contains(state(browser)));
        if (!"paused".equals(state(browser))) {
            throw new AssertionError(browser.element("train-status").getText());
        }
    }

    /** Steps a run is set to: checkpoints every 50 steps (or minute), validation every 50, a sample every 100. */
    static final int LONG_RUN = 1000;

    static Object state(Chromium browser) {
        return browser.script("return document.body.dataset.trainState");
    }
}
