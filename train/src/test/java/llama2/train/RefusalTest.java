package llama2.train;

import static llama2.train.CliTest.assertMessage;
import static llama2.train.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import llama2.engine.Config;
import llama2.engine.Tokenizer;

/**
 * What the trainer refuses, and when: before step 1 rather than at the first evaluation, with
 * one line naming the file or flag, and never by replacing a good file with a worse one.
 */
class RefusalTest {
    @TempDir
    static Path dir;
    static String train, valid, tok;
    static final String[] TINY = {"--dim", "16", "--layers", "1", "--heads", "2", "--seq-len", "32", "--batch", "2",
            "--shards", "2", "--warmup", "2", "--threads", "1"};

    @BeforeAll
    static void prepare() throws Exception {
        CliTest.writeStories(dir.resolve("train.txt"), TrainingTest.generatedStories(100, 1));
        CliTest.writeStories(dir.resolve("valid.txt"), TrainingTest.generatedStories(10, 2));
        tok = dir + "/tok.bin";
        train = dir + "/train.tok";
        valid = dir + "/valid.tok";
        run("tokenizer", "--text", dir + "/train.txt", "--vocab", "300", "--out", tok);
        run("prepare", "--text", dir + "/train.txt", "--tokenizer", tok, "--out", train);
        run("prepare", "--text", dir + "/valid.txt", "--tokenizer", tok, "--out", valid);
        run(trainArgs(dir + "/run", "--steps", "4", "--valid-data", valid, "--eval-every", "2"));
    }

    static String[] trainArgs(String outDir, String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--train-data", train, "--out-dir", outDir));
        args.addAll(List.of(TINY));
        args.addAll(List.of(more));
        return args.toArray(new String[0]);
    }

    @Test
    void aDivergingRunStopsAndNeverSavesNonFiniteWeights() throws Exception {
        Path out = Path.of(dir + "/diverge");
        assertMessage("the run diverged", trainArgs(out.toString(), "--steps", "30", "--lr", "1e30", "--checkpoint-every", "1"));
        assertTrue(Files.exists(out.resolve("model.bin")), "step 1 was still finite and saved");
        for (String f : new String[] {"model.bin", "checkpoint.bin"}) {
            for (float v : ModelCommands.loadModel(out.resolve(f)).params) {
                assertTrue(Float.isFinite(v), f + " holds " + v);
            }
        }
    }

    @Test
    void everyInputIsCheckedBeforeStepOne() throws Exception {
        run("prepare", "--text", dir + "/valid.txt", "--tokenizer", tok, "--out", dir + "/short.tok");
        assertMessage("--valid-data holds", trainArgs(dir + "/short", "--seq-len", "4000", "--valid-data", dir + "/short.tok"));
        assertMessage("seq_len 40000 is too long", trainArgs(dir + "/long", "--seq-len", "40000"));
        assertMessage("more than the", trainArgs(dir + "/big", "--dim", "1024", "--layers", "8", "--heads", "8",
                "--seq-len", "1024", "--shards", "256"));
        Files.writeString(dir.resolve("a-file"), "x");
        java.io.UncheckedIOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.UncheckedIOException.class,
                () -> Main.run(trainArgs(dir + "/a-file/out"), new java.io.PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().startsWith("writing into the directory " + dir + "/a-file/out: "), e.getMessage());
        assertTrue(!Files.exists(dir.resolve("long")) || list(dir.resolve("long")).isEmpty(), "nothing written");
    }

    @Test
    void resumeAndInitRefuseWhatTheyFix() throws Exception {
        assertMessage("so it keeps its settings: --batch 3 (the checkpoint's is 2), --lr 1.0 (the checkpoint's is 0.001);",
                "train", "--train-data", train, "--out-dir", dir + "/run", "--resume", "--lr", "1", "--batch", "3", "--dim", "16");
        assertMessage("--init /x;", "train", "--train-data", train, "--out-dir", dir + "/run", "--resume", "--init", "/x");
        assertMessage("--init with --dim: the model's shape comes from the --init file",
                "train", "--train-data", train, "--out-dir", dir + "/ft", "--init", dir + "/run/model.bin", "--dim", "8");
    }

    @Test
    void aDamagedOrForeignCheckpointIsRefused() throws Exception {
        Path copy = dir.resolve("flipped");
        Files.createDirectories(copy);
        byte[] bytes = Files.readAllBytes(Path.of(dir + "/run/checkpoint.bin"));
        bytes[bytes.length / 2] ^= 4;
        Files.write(copy.resolve("checkpoint.bin"), bytes);
        assertMessage("checkpoint.bin: training checkpoint is damaged (CRC32 checksum mismatch)",
                "train", "--train-data", train, "--out-dir", copy.toString(), "--resume");
        byte[] format1 = Arrays.copyOf(Files.readAllBytes(Path.of(dir + "/run/checkpoint.bin")), 64);
        format1[4] = 0; format1[5] = 0; format1[6] = 0; format1[7] = 1; // format 1's big-endian int
        Files.write(copy.resolve("checkpoint.bin"), format1);
        assertMessage("training checkpoint format 1, from an older trainer",
                "train", "--train-data", train, "--out-dir", copy.toString(), "--resume");
        // token files of another tokenizer
        run("tokenizer", "--text", dir + "/valid.txt", "--vocab", "300", "--out", dir + "/tok2.bin");
        run("prepare", "--text", dir + "/train.txt", "--tokenizer", dir + "/tok2.bin", "--out", dir + "/other.tok");
        assertMessage("other.tok was prepared with another tokenizer than the run",
                "train", "--train-data", dir + "/other.tok", "--out-dir", dir + "/run", "--resume");
        assertMessage("--valid-data and --train-data were prepared with different tokenizers",
                trainArgs(dir + "/mixed", "--valid-data", dir + "/other.tok"));
    }

    @Test
    void anEmptyBestTxtFromAnOlderTrainerDoesNotStopAResume() throws Exception {
        Path copy = dir.resolve("empty-best");
        Files.createDirectories(copy);
        for (String f : new String[] {"checkpoint.bin", "best.bin"}) {
            Files.copy(Path.of(dir + "/run", f), copy.resolve(f));
        }
        Files.writeString(copy.resolve("best.txt"), "");
        String log = run("train", "--train-data", train, "--valid-data", valid, "--out-dir", copy.toString(), "--resume",
                "--steps", "6", "--eval-every", "2");
        assertTrue(log.contains("step 6/6"), log);
        assertTrue(Files.readString(copy.resolve("best.txt")).startsWith("6 "));
    }

    @Test
    void textAndTokenizerInputsAreChecked() throws Exception {
        Files.writeString(dir.resolve("empty.txt"), "\n<|endoftext|>\n");
        assertMessage("empty.txt: holds no stories", "tokenizer", "--text", dir + "/empty.txt", "--vocab", "300", "--out", dir + "/e.bin");
        Files.write(dir.resolve("binary.txt"), new byte[] {'a', 'b', (byte) 0xff, (byte) 0xfe, 'c'});
        assertMessage("binary.txt: not UTF-8 text: 2 of 5 bytes", "prepare", "--text", dir + "/binary.txt", "--tokenizer", tok,
                "--out", dir + "/b.tok");
        byte[][] pieces = new byte[100][];
        for (int i = 0; i < pieces.length; i++) {
            pieces[i] = new byte[] {(byte) ('a' + i % 26)};
        }
        ByteArrayOutputStream small = new ByteArrayOutputStream();
        new Tokenizer(pieces, new float[100], 1).write(small);
        Files.write(dir.resolve("small.bin"), small.toByteArray());
        assertMessage("small.bin: holds 100 pieces, fewer than the 259", "prepare", "--text", dir + "/train.txt",
                "--tokenizer", dir + "/small.bin", "--out", dir + "/s.tok");
        assertMessage("the output would overwrite the input", "prepare", "--text", dir + "/train.txt", "--tokenizer", tok,
                "--out", dir + "/train.txt");
        assertMessage("the output would overwrite the input", "export", "--model", dir + "/run/model.bin", "--version", "2",
                "--out", dir + "/run/../run/model.bin");
    }

    @Test
    void evalOfALongContextModelSizesItsWindowsToTheStories() throws Exception {
        Config config = new Config(16, 32, 1, 2, 2, 300, 20000, true);
        ParameterLayout layout = new ParameterLayout(config);
        Path model = dir.resolve("long-context.bin");
        WeightsBridge.export(layout, layout.initialise(new Rng(1)), 0, model);
        String eval = run("eval", "--model", model.toString(), "--tokenizer", tok, "--text", dir + "/valid.txt", "--threads", "1000");
        assertTrue(eval.contains("bits_per_byte="), eval);
    }

    @Test
    void sampleSeedZeroIsTheClockNotGreedy() throws Exception {
        String model = dir + "/run/model.bin";
        String greedy = run("sample", "--model", model, "--tokenizer", tok, "--temperature", "0", "--steps", "40");
        String seeded = run("sample", "--model", model, "--tokenizer", tok, "--seed", "0", "--steps", "40");
        assertNotEquals(greedy, seeded);
    }

    @Test
    void aLossRowCutShortByAKillIsLeftOut() throws Exception {
        Path csv = dir.resolve("cut.csv");
        Files.writeString(csv, LossLog.HEADER + "\n1,5.0,,1.0e-03,64,0.1\n2,4.9,4.8,1.0e-03,128,0.2\n3,4.");
        assertTrue(LossLog.read(csv).size() == 2);
        LossLog.open(csv, 1);
        assertTrue(Files.readString(csv).equals(LossLog.HEADER + "\n1,5.0,,1.0e-03,64,0.1\n"), Files.readString(csv));
    }

    static List<Path> list(Path d) throws Exception {
        try (var s = Files.list(d)) {
            return s.toList();
        }
    }
}
