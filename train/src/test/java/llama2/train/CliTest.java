package llama2.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import llama2.engine.BadInputException;

/** The jar's commands, from a text file to a model and its figures, and their errors. */
class CliTest {

    static String run(String... args) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream saved = System.out;
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        System.setOut(out); // 'train' prints its progress to System.out
        try {
            assertEquals(0, Main.run(args, out));
        } finally {
            System.setOut(saved);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    static void writeStories(Path file, List<String> stories) throws Exception {
        Files.writeString(file, String.join("\n<|endoftext|>\n", stories) + "\n<|endoftext|>\n");
    }

    @Test
    void fromTextToModelAndFigures(@TempDir Path dir) throws Exception {
        Path train = dir.resolve("train.txt"), valid = dir.resolve("valid.txt");
        writeStories(train, TrainingTest.generatedStories(200, 1));
        List<String> validStories = new java.util.ArrayList<>(TrainingTest.generatedStories(20, 2));
        validStories.add(MojibakeTest.doubleEncode("“Hi,” said Sam. It’s sunny."));
        writeStories(valid, validStories);
        String d = dir.toString();
        assertTrue(run("tokenizer", "--text", train.toString(), "--vocab", "300", "--out", d + "/tok.bin")
                .contains("repaired double-encoded UTF-8 (mojibake) in 0 of 200 stories"));
        run("prepare", "--text", train.toString(), "--tokenizer", d + "/tok.bin", "--out", d + "/train.tok");
        assertTrue(run("prepare", "--text", valid.toString(), "--tokenizer", d + "/tok.bin", "--out", d + "/valid.tok")
                .contains("in 1 of 21 stories"));
        String log = run("train", "--train-data", d + "/train.tok", "--valid-data", d + "/valid.tok", "--out-dir", d + "/run",
                "--dim", "32", "--layers", "1", "--heads", "2", "--seq-len", "32", "--steps", "6", "--batch", "2",
                "--warmup", "2", "--eval-every", "3", "--checkpoint-every", "3", "--log-every", "1", "--dropout", "0.1");
        assertTrue(log.contains("step 6/6 | loss") && log.contains("dropout 0.10"), log);
        assertTrue(log.contains("tok/s") && log.contains("ETA") && log.contains("valid loss"), log);
        for (String f : new String[] {"checkpoint.bin", "model.bin", "best.bin", "best.txt", "losses.csv"}) {
            assertTrue(Files.isRegularFile(dir.resolve("run").resolve(f)), f);
        }
        List<LossLog.Row> rows = LossLog.read(dir.resolve("run/losses.csv"));
        assertEquals(List.of(1, 2, 3, 4, 5, 6), rows.stream().map(LossLog.Row::step).toList());
        assertTrue(Double.isNaN(rows.get(1).validLoss()) && rows.get(2).validLoss() > 0 && rows.get(5).validLoss() > 0);
        assertEquals(6L * 2 * 32, rows.get(5).tokens());
        // resume to a longer schedule, then export version 2
        String resumed = run("train", "--train-data", d + "/train.tok", "--out-dir", d + "/run", "--resume", "--steps", "8");
        assertTrue(resumed.contains("resuming") && resumed.contains("step 8/8"), resumed);
        assertEquals(8, LossLog.read(dir.resolve("run/losses.csv")).get(7).step());
        run("plot", "--run", d + "/run", "--out", d + "/loss.svg");
        String svg = Files.readString(dir.resolve("loss.svg"));
        assertTrue(svg.startsWith("<svg") && svg.strip().endsWith("</svg>") && svg.contains("validation (best"), svg);
        assertEquals(2, svg.split("<polyline").length - 1, svg);
        run("export", "--model", d + "/run/checkpoint.bin", "--version", "2", "--out", d + "/q.bin");

        String eval = run("eval", "--model", d + "/run/model.bin", "--tokenizer", d + "/tok.bin", "--text", valid.toString());
        String[] lines = eval.strip().split("\n");
        assertTrue(lines[lines.length - 1].matches("bits_per_byte=[0-9.]+"), eval);
        // scored as found by default; --repair-text scores the repaired, shorter text
        String repaired = run("eval", "--model", d + "/run/model.bin", "--tokenizer", d + "/tok.bin", "--text",
                valid.toString(), "--repair-text");
        assertTrue(repaired.contains("in 1 of 21 stories") && !eval.contains("repaired"), repaired);
        assertTrue(bytes(repaired) < bytes(eval), eval + repaired);
        String story = run("sample", "--model", d + "/q.bin", "--tokenizer", d + "/tok.bin", "--seed", "7", "--steps", "20");
        assertFalse(story.isBlank());

        // early stopping: a best no validation can beat, recorded at step 1
        Files.writeString(dir.resolve("run/best.txt"), "1 0.0001\n");
        String stopped = run("train", "--train-data", d + "/train.tok", "--valid-data", d + "/valid.tok", "--out-dir",
                d + "/run", "--resume", "--steps", "20", "--eval-every", "1", "--patience", "3");
        assertTrue(stopped.contains("step 9 | stopping early: no better validation loss in 3 validations"), stopped);
        assertFalse(stopped.contains("step 10/20"), stopped);
        assertEquals(9, TrainingCheckpoint.load(dir.resolve("run/checkpoint.bin")).step());
    }

    @Test
    void fineTunesStories260KOnNewText(@TempDir Path dir) throws Exception {
        String shared = System.getProperty("shared.dir");
        Path model = shared == null ? null : Path.of(shared, "llama2/models/stories260K.bin");
        Path tokenizer = shared == null ? null : Path.of(shared, "llama2/models/tok512.bin");
        org.junit.jupiter.api.Assumptions.assumeTrue(model != null && Files.isRegularFile(model) && Files.isRegularFile(tokenizer),
                "needs ../shared/llama2/models/stories260K.bin and tok512.bin");
        Path text = dir.resolve("new.txt");
        writeStories(text, TrainingTest.generatedStories(100, 4));
        String d = dir.toString();
        run("prepare", "--text", text.toString(), "--tokenizer", tokenizer.toString(), "--out", d + "/new.tok");
        String before = run("eval", "--model", model.toString(), "--tokenizer", tokenizer.toString(), "--text", text.toString());
        run("train", "--init", model.toString(), "--train-data", d + "/new.tok", "--out-dir", d + "/run", "--seq-len", "64",
                "--steps", "40", "--batch", "4", "--lr", "2e-3", "--warmup", "5");
        String after = run("eval", "--model", d + "/run/model.bin", "--tokenizer", tokenizer.toString(), "--text", text.toString());
        assertTrue(bitsPerByte(after) < 0.8 * bitsPerByte(before), before + " -> " + after);
    }

    static long bytes(String evalOutput) {
        return Long.parseLong(evalOutput.replaceAll("(?s).*bytes=([0-9]+).*", "$1"));
    }

    static double bitsPerByte(String evalOutput) {
        String[] lines = evalOutput.strip().split("\n");
        return Double.parseDouble(lines[lines.length - 1].substring("bits_per_byte=".length()));
    }

    @Test
    void everyCommandHasHelp() throws Exception {
        assertTrue(run("--help").contains("commands"));
        for (String command : new String[] {"tokenizer", "prepare", "train", "export", "eval", "sample", "plot"}) {
            assertTrue(run(command, "--help").startsWith("usage: " + command), command);
        }
    }

    @Test
    void badInputNamesTheProblem(@TempDir Path dir) {
        assertMessage("unknown command", "frobnicate");
        assertMessage("/nonexistent.txt: no such file", "tokenizer", "--text", "/nonexistent.txt", "--vocab", "300", "--out", "x");
        assertMessage("unknown option '--colour'", "eval", "--colour", "red");
        assertMessage("--vocab expects an integer", "tokenizer", "--vocab", "many");
        assertMessage("--out-dir is required", "train", "--train-data", "x");
    }

    static void assertMessage(String expected, String... args) {
        BadInputException e = assertThrows(BadInputException.class, () -> Main.run(args, new PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().contains(expected) && !e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void badFileIsOneLineAndExitStatusOne(@TempDir Path dir) throws Exception {
        Path notAModel = dir.resolve("junk.bin");
        Files.write(notAModel, new byte[] {1, 2, 3});
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "llama2.train.Main",
                "eval", "--model", notAModel.toString(), "--tokenizer", notAModel.toString(), "--text", notAModel.toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(1, p.waitFor());
        assertEquals(1, output.strip().split("\n").length, output);
        assertTrue(output.startsWith("error: ") && output.contains("junk.bin"), output);
    }
}
