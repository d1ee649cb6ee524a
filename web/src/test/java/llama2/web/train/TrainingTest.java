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
    void aSampleIsText() {
        Training run = scratch(Training.learnTokenizer(TEXT, RUN.vocab()));
        String sample = run.sample("Once", 20, 1);
        assertTrue(sample.startsWith("Once"), sample);
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
