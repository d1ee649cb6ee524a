package llama2.web.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;
import llama2.engine.CheckpointLoader;
import llama2.engine.Config;
import llama2.train.Preset;
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import llama2.web.support.Paths;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The Train view in headless Chromium (WebAssembly GC, whose arithmetic is the JVM's): a tiny
 * model from scratch in two data-parallel workers writes the same model.bin and tokenizer.bin as
 * the command-line trainer with the same settings, also when a reload interrupts it, and the
 * story view then writes with it.
 */
class ChromiumTrainTest {
    static final Duration TRAIN = Duration.ofMinutes(5);
    /** The page's tiny preset with a short window and batch, two workers (shards), as the CLI flags say it. */
    static final Config TINY = Preset.TINY.config();
    static final TrainCli.Run RUN = new TrainCli.Run(300, TINY.dim(), TINY.hiddenDim(), TINY.nLayers(), TINY.nHeads(),
            TINY.nKvHeads(), 32, 24, 4, "0.003", 2, 2, 7);
    static final String SETTINGS = "?view=train&mode=scratch&preset=tiny&steps=24&workers=2&batch=4&seq=32&vocab=300"
            + "&lr=0.003&seed=7";

    /** The default model's fp32 twin (its "fp32" in models.json), which a fine-tune starts from. */
    static final String FP32_TWIN = "stories5M-java";

    @TempDir
    static Path dir;
    static Path text;
    static TrainCli.Files2 cli;
    static DevServer server;
    static Chromium browser;

    @BeforeAll
    static void start() throws Exception {
        browser = Chromium.start();
        Assumptions.assumeTrue(TrainCli.jar().isPresent(), "the train module's jar is not built");
        text = dir.resolve("stories.txt");
        Files.writeString(text, TrainCli.stories(150, 1));
        Path cliDir = Files.createDirectories(dir.resolve("cli"));
        cli = TrainCli.scratch(TrainCli.jar().get(), text, RUN, cliDir);
        server = new DevServer(0, List.of(Paths.site()));
    }

    @AfterAll
    static void stop() throws IOException {
        Chromium.close(browser, server);
    }

    @Test
    void twoWorkersTrainTheCommandLinesModelAndTheStoryViewWritesWithIt() throws Exception {
        open();
        browser.element("train-start").click();
        awaitTrainState("done");

        double[] losses = losses();
        assertEquals(RUN.steps(), losses.length);
        assertTrue(losses[losses.length - 1] < losses[0] - 0.5, "the loss falls: " + Arrays.toString(losses));
        assertTrue(Integer.parseInt(browser.element("train-loss").getAttribute("data-tokps")) > 0);
        // the validation loss on the held-out tenth: before the first step, every 5 steps and after the last
        double[][] valid = validLosses();
        assertArrayEquals(new double[] {0, 5, 10, 15, 20, 24}, Arrays.stream(valid).mapToDouble(p -> p[0]).toArray());
        assertTrue(valid[valid.length - 1][1] < valid[0][1] - 0.5, "the validation loss falls: " + Arrays.deepToString(valid));
        assertEquals(cli.validLoss(), valid[valid.length - 1][1], 1e-9, "the CLI's validation loss (--valid-data) at the last step");
        assertTrue(browser.element("train-loss").getAttribute("innerHTML").contains("validation"), "the plot's legend");
        assertArrayEquals(cli.tokenizer(), download("train-download-tokenizer"));
        assertArrayEquals(cli.model(), download("train-download"));
        Path q8 = dir.resolve("cli/q8.bin");
        TrainCli.cli(TrainCli.jar().get(), "export", "--model", dir.resolve("cli/run/model.bin").toString(), "--version", "2",
                "--out", q8.toString());
        assertArrayEquals(Files.readAllBytes(q8), download("train-download-q8"), "the Q8_0 file, as the CLI's export writes it");

        browser.element("train-use").click();
        browser.awaitReady(Duration.ofSeconds(60));
        assertTrue(browser.element("facts").getAttribute("textContent").contains("vocabulary 300"),
                browser.element("facts").getAttribute("textContent"));
        browser.script("document.getElementById('steps').value = '20'"); // folded away under Settings
        browser.element("generate").click();
        assertEquals("done", browser.awaitState(Duration.ofSeconds(60), "done", "error"), browser.element("status").getText());
        assertTrue(browser.element("output").getText().length() > "Once upon a time".length(), browser.element("output").getText());
    }

    @Test
    void aReloadMidRunContinuesToTheSameBytes() {
        open();
        browser.element("train-start").click();
        new WebDriverWait(browser.driver(), TRAIN).until(d -> losses().length >= 9
                || !"training".equals(trainState()));
        browser.open(server.url() + "?view=train"); // a reload, without the settings in the address
        awaitTrainState("paused");
        String status = browser.element("train-status").getText();
        assertTrue(status.startsWith("A run was saved at step "), status);
        // the fields show the saved run's settings, not the page's defaults
        assertEquals(List.of("scratch", "tiny", "24", "0.003", "2", "4", "32", "300", "7"),
                Stream.of("mode", "preset", "steps", "lr", "workers", "batch", "seq", "vocab", "seed")
                        .map(f -> browser.element("train-" + f).getAttribute("value")).toList());
        int savedAt = losses().length;
        assertTrue(savedAt >= 1 && savedAt < RUN.steps(), "saved mid-run, at step " + savedAt);
        // the numbers line as it was at the checkpoint, before any step of this visit
        String numbers = browser.element("train-numbers").getText();
        assertTrue(numbers.startsWith("step " + savedAt + " / " + RUN.steps() + " · loss ") && numbers.contains(" tokens/s · ETA "),
                numbers);
        assertTrue(Integer.parseInt(browser.element("train-loss").getAttribute("data-tokps")) > 0);

        browser.element("train-start").click();
        awaitTrainState("done");
        assertEquals(RUN.steps(), losses().length);
        assertArrayEquals(cli.model(), download("train-download"));
    }

    @Test
    void fineTuningStartsFromTheStoryModelsFp32WeightsAsTheCommandLineDoes() throws Exception {
        open("?view=train&mode=finetune&steps=3&workers=1&batch=2&seq=32&lr=0.0003", text);
        browser.element("train-start").click();
        awaitTrainState("done");
        assertEquals(3, losses().length);
        String status = browser.element("train-status").getText();
        assertTrue(status.contains("from its fp32 weights"), status);
        byte[] model = download("train-download");
        java.nio.IntBuffer header = java.nio.ByteBuffer.wrap(model).order(java.nio.ByteOrder.LITTLE_ENDIAN).asIntBuffer();
        int[] config = new int[7];
        header.get(config);
        // the story model's shape, its shared classifier (a positive vocabulary size), windows of 32 tokens
        Path story = Paths.defaultModel().model();
        llama2.engine.Config shape = llama2.engine.CheckpointLoader.config(
                java.nio.ByteBuffer.wrap(Files.readAllBytes(story)), Files.size(story), story.toString());
        assertArrayEquals(new int[] {shape.dim(), shape.hiddenDim(), shape.nLayers(), shape.nHeads(), shape.nKvHeads(),
                shape.vocabSize(), 32}, config);
        assertArrayEquals(Files.readAllBytes(Paths.defaultModel().tokenizer()), download("train-download-tokenizer"));

        Path cliDir = Files.createDirectories(dir.resolve("cli-finetune"));
        Path[] tokens = TrainCli.prepare(TrainCli.jar().get(), text, Paths.defaultModel().tokenizer(), 32, cliDir);
        TrainCli.cli(TrainCli.jar().get(), "train", "--train-data", tokens[0].toString(), "--out-dir", cliDir.toString(),
                "--init", Paths.siteModel(FP32_TWIN).model().toString(), "--kernels", "portable", "--seq-len", "32", "--steps", "3",
                "--batch", "2", "--lr", "0.0003", "--warmup", "1", "--shards", "1", "--threads", "1", "--seed", "1337");
        assertArrayEquals(Files.readAllBytes(cliDir.resolve("model.bin")), model, "the CLI's fine-tune of the fp32 weights");
    }

    @Test
    void aFineTunesShapeIsReadFromTheHeaderOfTheModelChosen() throws Exception {
        open("?view=train&mode=finetune&steps=2&workers=1&batch=2&seq=32&lr=0.0003", text);
        // the story model: its fp32 twin's header decides the shape the warm-up times
        Config story = shapeOf(Paths.siteModel(FP32_TWIN).model());
        awaitParameters("train-base-facts", story.parameterCount());
        awaitParameters("train-estimate", story.parameterCount());

        new Select(browser.element("train-base")).selectByValue("files");
        browser.element("train-model-file").sendKeys(text.toAbsolutePath().toString());
        browser.element("train-tokenizer-file").sendKeys(Paths.shared("llama2/models/tok512.bin").toAbsolutePath().normalize().toString());
        new WebDriverWait(browser.driver(), Duration.ofSeconds(60))
                .until(d -> browser.element("train-base-facts").getText().contains("not a llama2.c checkpoint"));
        browser.element("train-start").click();
        awaitTrainState("error");
        assertTrue(browser.element("train-status").getText().startsWith("stories.txt: not a llama2.c checkpoint"),
                browser.element("train-status").getText());

        // another model of the visitor's: its shape, not the story model's, in the facts, the warm-up and the result
        Path model = Paths.shared("llama2/models/stories260K.bin");
        browser.element("train-model-file").sendKeys(model.toAbsolutePath().normalize().toString());
        Config own = shapeOf(model);
        awaitParameters("train-base-facts", own.parameterCount());
        String facts = browser.element("train-base-facts").getText();
        assertTrue(facts.startsWith(String.format("stories260K.bin: dim %d, hidden %d, %d layers, %d heads (%d key/value), vocabulary %d",
                own.dim(), own.hiddenDim(), own.nLayers(), own.nHeads(), own.nKvHeads(), own.vocabSize())), facts);
        awaitParameters("train-estimate", own.parameterCount());
        browser.element("train-start").click();
        awaitTrainState("done");
        java.nio.IntBuffer header = java.nio.ByteBuffer.wrap(download("train-download")).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .asIntBuffer();
        int[] config = new int[7];
        header.get(config);
        assertArrayEquals(new int[] {own.dim(), own.hiddenDim(), own.nLayers(), own.nHeads(), own.nKvHeads(),
                own.sharedClassifier() ? own.vocabSize() : -own.vocabSize(), 32}, config);
        assertArrayEquals(Files.readAllBytes(Paths.shared("llama2/models/tok512.bin")), download("train-download-tokenizer"));
    }

    private static Config shapeOf(Path model) throws IOException {
        return CheckpointLoader.config(java.nio.ByteBuffer.wrap(Files.readAllBytes(model)), Files.size(model), model.toString());
    }

    /** Waits for an element's data-parameters to say this count. */
    private void awaitParameters(String id, long parameters) {
        new WebDriverWait(browser.driver(), Duration.ofMinutes(2))
                .withMessage(() -> id + ": " + browser.element(id).getText() + " (" + browser.element(id).getAttribute("data-parameters") + ")")
                .until(d -> String.valueOf(parameters).equals(browser.element(id).getAttribute("data-parameters")));
    }

    @Test
    void theTrainersWorkersDoNotShardTheStoryModel() {
        browser.open(server.url() + "?view=train&workers=3");
        browser.awaitReady(Duration.ofSeconds(60));
        String facts = browser.element("facts").getAttribute("textContent");
        assertTrue(facts.contains("parameters") && !facts.contains("3 workers"), facts);
        assertEquals(browser.script("return chooseWorkers(new URLSearchParams(''))"),
                browser.script("return chooseWorkers(new URLSearchParams(location.search))"));
    }

    @Test
    void anEstimateOfTheTimeIsShownBeforeStart() {
        open();
        String estimate = awaitEstimate();
        assertTrue(estimate.startsWith("About ") && estimate.contains("for 24 steps: an estimate from a warm-up step"), estimate);
        double seconds = Double.parseDouble(browser.element("train-estimate").getAttribute("data-seconds"));
        browser.type("train-steps", "48");
        new WebDriverWait(browser.driver(), Duration.ofSeconds(10))
                .until(d -> browser.element("train-estimate").getText().contains("for 48 steps"));
        // the steps multiply the step measured for these settings; no new warm-up
        assertEquals(2 * seconds, Double.parseDouble(browser.element("train-estimate").getAttribute("data-seconds")), 1e-9 * seconds);
        assertEquals("idle", trainState());
    }

    private String awaitEstimate() {
        new WebDriverWait(browser.driver(), Duration.ofMinutes(2))
                .withMessage(() -> "no estimate: " + browser.element("train-estimate").getText())
                .until(d -> browser.element("train-estimate").getText().startsWith("About "));
        return browser.element("train-estimate").getText();
    }

    @Test
    void badTextGetsASentence() throws IOException {
        Path binary = dir.resolve("binary.txt");
        Files.write(binary, new byte[] {'a', 0, 'b'});
        open(SETTINGS, binary);
        browser.element("train-start").click();
        awaitTrainState("error");
        assertEquals("This is not a text file: it holds a NUL byte at offset 1. Give plain UTF-8 text (.txt).",
                browser.element("train-status").getText());

        Path short_ = dir.resolve("short.txt");
        Files.writeString(short_, "Once upon a time there was a cat.");
        open(SETTINGS, short_);
        browser.element("train-start").click();
        awaitTrainState("error");
        assertTrue(browser.element("train-status").getText().startsWith("The text is too short: it makes "),
                browser.element("train-status").getText());
    }

    private void open() {
        open(SETTINGS, text);
    }

    private void open(String settings, Path file) {
        browser.open(server.url() + settings);
        browser.script("indexedDB.deleteDatabase('llama2-train')");
        browser.open(server.url() + settings);
        awaitTrainState("idle");
        browser.element("train-text").sendKeys(file.toAbsolutePath().toString());
        new WebDriverWait(browser.driver(), Duration.ofSeconds(30))
                .withMessage(() -> "the page did not read the text: " + browser.element("train-status").getText())
                .until(d -> browser.element("train-status").getText().contains("read"));
    }

    private String trainState() {
        return (String) browser.script("return document.body.dataset.trainState");
    }

    private void awaitTrainState(String expected) {
        new WebDriverWait(browser.driver(), TRAIN)
                .withMessage(() -> "waiting for " + expected + ": " + browser.element("train-status").getText())
                .until(d -> List.of(expected, "error").contains(trainState()));
        assertEquals(expected, trainState(), browser.element("train-status").getText());
    }

    private double[] losses() {
        String list = browser.element("train-loss").getAttribute("data-losses");
        return list.isEmpty() ? new double[0] : Arrays.stream(list.split(",")).mapToDouble(Double::parseDouble).toArray();
    }

    /** The validation losses drawn, as {step, loss} pairs. */
    private double[][] validLosses() {
        String list = browser.element("train-loss").getAttribute("data-valid-losses");
        return list.isEmpty() ? new double[0][] : Arrays.stream(list.split(","))
                .map(p -> Arrays.stream(p.split(":")).mapToDouble(Double::parseDouble).toArray()).toArray(double[][]::new);
    }

    /** Clicks a download button and reads the file it offered. */
    private byte[] download(String button) {
        browser.element(button).click();
        String url = browser.element(button).getAttribute("data-url");
        Object base64 = ((org.openqa.selenium.JavascriptExecutor) browser.driver()).executeAsyncScript(
                "const done = arguments[arguments.length - 1];"
                + "fetch(arguments[0]).then((r) => r.arrayBuffer()).then((b) => {"
                + "  const u = new Uint8Array(b); let s = '';"
                + "  for (let i = 0; i < u.length; i += 8192) { s += String.fromCharCode.apply(null, u.subarray(i, i + 8192)); }"
                + "  done(btoa(s)); });", url);
        return Base64.getDecoder().decode((String) base64);
    }
}
