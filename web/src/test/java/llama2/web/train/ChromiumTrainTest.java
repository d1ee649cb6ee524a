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
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import llama2.web.support.Paths;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
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
    static final TrainCli.Run RUN = new TrainCli.Run(300, 64, 172, 5, 8, 4, 32, 24, 4, "0.003", 2, 2, 7);
    static final String SETTINGS = "?view=train&mode=scratch&preset=tiny&steps=24&workers=2&batch=4&seq=32&vocab=300"
            + "&lr=0.003&seed=7";

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
    void twoWorkersTrainTheCommandLinesModelAndTheStoryViewWritesWithIt() {
        open();
        browser.element("train-start").click();
        awaitTrainState("done");

        double[] losses = losses();
        assertEquals(RUN.steps(), losses.length);
        assertTrue(losses[losses.length - 1] < losses[0] - 0.5, "the loss falls: " + Arrays.toString(losses));
        assertTrue(Integer.parseInt(browser.element("train-loss").getAttribute("data-tokps")) > 0);
        assertArrayEquals(cli.tokenizer(), download("train-download-tokenizer"));
        assertArrayEquals(cli.model(), download("train-download"));

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
        browser.driver().navigate().refresh();
        awaitTrainState("paused");
        String status = browser.element("train-status").getText();
        assertTrue(status.startsWith("A run was saved at step "), status);
        int savedAt = losses().length;
        assertTrue(savedAt >= 1 && savedAt < RUN.steps(), "saved mid-run, at step " + savedAt);

        browser.element("train-start").click();
        awaitTrainState("done");
        assertEquals(RUN.steps(), losses().length);
        assertArrayEquals(cli.model(), download("train-download"));
    }

    @Test
    void fineTuningTheStoryModelKeepsItsShapeAndTokenizer() throws IOException {
        open("?view=train&mode=finetune&steps=3&workers=1&batch=2&seq=32&lr=0.0003", text);
        browser.element("train-start").click();
        awaitTrainState("done");
        assertEquals(3, losses().length);
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
