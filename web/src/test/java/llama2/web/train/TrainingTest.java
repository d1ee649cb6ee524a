package llama2.web.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import llama2.engine.BadInputException;
import llama2.engine.Config;
import llama2.train.Trainer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The browser's trainer on the JVM: from a text's bytes to the same files as the command-line
 * trainer with the portable kernels, whether one worker runs every shard or two workers each run
 * some and hand each other their gradients, and across a checkpoint.
 */
class TrainingTest {
    static final TrainCli.Run RUN = new TrainCli.Run(300, 32, 96, 2, 4, 2, 32, 12, 4, "0.003", 2, 2, 7);
    static final byte[] TEXT = TrainCli.stories(150, 1).getBytes(StandardCharsets.UTF_8);

    static Training scratch(byte[] tokenizer) {
        Config shape = new Config(RUN.dim(), RUN.hidden(), RUN.layers(), RUN.heads(), RUN.kvHeads(), 1, RUN.seqLen(), true);
        return Training.scratch(TEXT, tokenizer, shape, new Training.Settings(RUN.steps(), RUN.batch(),
                Training.learningRate(RUN.lr()), RUN.warmup(), RUN.shards(), RUN.seed()));
    }

    @Test
    void oneWorkerWritesTheCommandLinesFilesByteForByte(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(TrainCli.jar().isPresent(), "the train module's jar is not built");
        Path text = dir.resolve("text.txt");
        Files.write(text, TEXT);
        TrainCli.Files2 cli = TrainCli.scratch(TrainCli.jar().get(), text, RUN, dir);

        byte[] tokenizer = Training.learnTokenizer(TEXT, RUN.vocab());
        assertArrayEquals(cli.tokenizer(), tokenizer);
        Training run = scratch(tokenizer);
        double first = run.trainer.trainStep(), last = first;
        while (run.trainer.step() < RUN.steps()) {
            last = run.trainer.trainStep();
        }
        assertTrue(last < first, "the loss falls: " + first + " -> " + last);
        assertArrayEquals(cli.model(), run.modelFile());
        assertEquals(cli.validLoss(), run.validationLoss(), "the validation loss on the held-out tenth, as --valid-data gives it");
    }

    @Test
    void theLastTenthOfTheStoriesIsHeldOutForValidation() {
        byte[] tokenizerFile = Training.learnTokenizer(TEXT, RUN.vocab());
        Training run = scratch(tokenizerFile);
        java.util.List<String> stories = Training.stories(TEXT);
        assertEquals(150, stories.size());
        assertArrayEquals(Training.encode(run.tokenizer, stories.subList(0, 135)), run.tokens);
        assertArrayEquals(Training.encode(run.tokenizer, stories.subList(135, 150)), run.validTokens);

        // a last tenth shorter than a window takes more stories; one story is trained on whole
        Training.Split longWindow = Training.split(run.tokenizer, stories.subList(0, 40), 200);
        assertTrue(longWindow.valid().length >= 201, "held out: " + longWindow.valid().length);
        assertEquals(Training.encode(run.tokenizer, stories.subList(0, 40)).length,
                longWindow.train().length + longWindow.valid().length);
        Training.Split none = Training.split(run.tokenizer, stories.subList(0, 1), RUN.seqLen());
        assertEquals(0, none.valid().length);
        assertArrayEquals(Training.encode(run.tokenizer, stories.subList(0, 1)), none.train());
        assertTrue(Double.isNaN(Training.scratch(String.join("\n<|endoftext|>\n", stories.subList(0, 1))
                .getBytes(StandardCharsets.UTF_8), tokenizerFile, new Config(RUN.dim(), RUN.hidden(), RUN.layers(),
                RUN.heads(), RUN.kvHeads(), 1, RUN.seqLen(), true), new Training.Settings(2, 2, 1e-3f, 1, 1, 1))
                .validationLoss()));
    }

    @Test
    void twoWorkersSharingTheirGradientsTrainAsOne() {
        byte[] tokenizer = Training.learnTokenizer(TEXT, RUN.vocab());
        Training alone = scratch(tokenizer);
        Training[] workers = {scratch(tokenizer), scratch(tokenizer)};
        for (int s = 0; s < RUN.steps(); s++) {
            double expected = alone.trainer.trainStep();
            double[] losses = new double[RUN.shards()];
            for (int w = 0; w < 2; w++) {
                workers[w].trainer.beginStep();
                losses[w] = workers[w].trainer.shardGradient(w); // worker w runs shard w
            }
            for (int w = 0; w < 2; w++) {
                Trainer other = workers[1 - w].trainer;
                workers[w].trainer.receiveGradient(1 - w, other.gradient(1 - w).clone());
            }
            for (Training worker : workers) {
                assertEquals(expected, worker.trainer.finishStep(losses));
            }
        }
        assertArrayEquals(alone.modelFile(), workers[0].modelFile());
        assertArrayEquals(alone.modelFile(), workers[1].modelFile());
    }

    @Test
    void aRunResumedFromItsCheckpointEndsWithTheSameBytes() {
        byte[] tokenizer = Training.learnTokenizer(TEXT, RUN.vocab());
        Training uninterrupted = scratch(tokenizer);
        Training interrupted = scratch(tokenizer);
        for (int s = 0; s < 5; s++) {
            uninterrupted.trainer.trainStep();
            interrupted.trainer.trainStep();
        }
        Training resumed = Training.resume(interrupted.checkpointFile(1.5), TEXT, tokenizer);
        assertEquals(5, resumed.trainer.step());
        while (uninterrupted.trainer.step() < RUN.steps()) {
            uninterrupted.trainer.trainStep();
            resumed.trainer.trainStep();
        }
        assertArrayEquals(uninterrupted.modelFile(), resumed.modelFile());
    }

    @Test
    void aSampleIsThePromptOnceThenWhatFollows() {
        Training run = scratch(Training.learnTokenizer(TEXT, RUN.vocab()));
        String prompt = "Once upon a time";
        int promptTokens = run.tokenizer.encode(prompt, true, false).length - 1;
        assertEquals(prompt, run.sample(prompt, promptTokens, 1), "steps that end with the prompt give the prompt alone");
        String sample = run.sample(prompt, 20, 1);
        assertTrue(sample.startsWith(prompt) && !sample.startsWith(prompt + prompt), sample);
    }

    @Test
    void theCommandLineResumesARunSavedInTheBrowser(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(TrainCli.jar().isPresent(), "the train module's jar is not built");
        byte[] tokenizer = Training.learnTokenizer(TEXT, RUN.vocab());
        Training uninterrupted = scratch(tokenizer);
        Training browser = scratch(tokenizer);
        for (int s = 0; s < 5; s++) {
            uninterrupted.trainer.trainStep();
            browser.trainer.trainStep();
        }
        while (uninterrupted.trainer.step() < RUN.steps()) {
            uninterrupted.trainer.trainStep();
        }
        Path run = Files.createDirectories(dir.resolve("run"));
        Files.write(run.resolve("checkpoint.bin"), browser.checkpointFile(1.5));
        Files.write(dir.resolve("tokenizer.bin"), tokenizer);
        Files.write(dir.resolve("text.txt"), TEXT);
        Path jar = TrainCli.jar().get();
        Path[] tokens = TrainCli.prepare(jar, dir.resolve("text.txt"), dir.resolve("tokenizer.bin"), RUN.seqLen(), dir);
        TrainCli.cli(jar, "train", "--train-data", tokens[0].toString(), "--out-dir", run.toString(),
                "--resume", "--kernels", "portable", "--threads", "2");
        assertArrayEquals(uninterrupted.modelFile(), Files.readAllBytes(run.resolve("model.bin")));
    }

    @Test
    void aDivergedRunNamesThePagesLearningRateField() {
        byte[] tokenizer = Training.learnTokenizer(TEXT, RUN.vocab());
        Config shape = new Config(RUN.dim(), RUN.hidden(), RUN.layers(), RUN.heads(), RUN.kvHeads(), 1, RUN.seqLen(), true);
        Training run = Training.scratch(TEXT, tokenizer, shape, new Training.Settings(RUN.steps(), RUN.batch(), 1e30f,
                1, RUN.shards(), RUN.seed()));
        String message = null;
        try {
            while (run.trainer.step() < RUN.steps()) {
                Training.requireFinite(run.trainer, run.trainer.trainStep());
            }
        } catch (RuntimeException failure) {
            message = Training.explain(failure);
        }
        assertTrue(message != null && message.matches("Step \\d+: .*: the run diverged\\. Lower the learning rate.*")
                && !message.contains("--"), String.valueOf(message));
    }

    @Test
    void pastedParagraphsAreStories() {
        assertEquals(java.util.List.of("Once there was a cat.", "The cat sat.\nIt slept."),
                Training.stories("Once there was a cat.\n\nThe cat sat.\nIt slept.\n".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void badTextGetsOneSentence() {
        assertEquals("This is not a text file: it holds a NUL byte at offset 2. Give plain UTF-8 text (.txt).",
                assertThrows(BadInputException.class, () -> Training.learnTokenizer(new byte[] {'a', 'b', 0}, 300)).getMessage());
        assertEquals("The text is empty: give some stories to learn from.",
                assertThrows(BadInputException.class, () -> Training.learnTokenizer("\n<|endoftext|>\n".getBytes(StandardCharsets.UTF_8), 300)).getMessage());
        byte[] tokenizer = Training.learnTokenizer(TEXT, RUN.vocab());
        Config shape = new Config(RUN.dim(), RUN.hidden(), RUN.layers(), RUN.heads(), RUN.kvHeads(), 1, 256, true);
        String message = assertThrows(BadInputException.class, () -> Training.scratch("Once upon a time.".getBytes(StandardCharsets.UTF_8),
                tokenizer, shape, new Training.Settings(10, 4, 1e-3f, 2, 1, 1))).getMessage();
        assertTrue(message.startsWith("The text is too short: it makes "), message);
        assertEquals("The learning rate must be a number between 0 and 1 (such as 0.001), got 'fast'.",
                assertThrows(BadInputException.class, () -> Training.learningRate("fast")).getMessage());
    }
}
