package llama2.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import llama2.engine.Checkpoint;
import llama2.io.SafeFiles;

/**
 * Faults a user meets, on the real jars run as processes: kill -9 at random moments of a
 * training run that saves at every step, concurrent writers of one file, a full disk, FIFOs, a
 * non-UTF-8 locale, a full stdout. Each must end in one line on stderr and a non-zero status, or
 * work; no earlier file may be lost or torn; a resumed run must end bit-identical to an
 * uninterrupted one. Models are tiny, so the suite takes about a minute on two cores.
 */
class FaultInjectionIT {
    static final Path TRAIN_JAR = Path.of(System.getProperty("train.jar", "target/llama2-train.jar"));
    static final Path ENGINE_JAR = Path.of(System.getProperty("engine.jar", "../engine/target/llama2.jar"));
    static final String[] MODEL = {"--dim", "16", "--layers", "1", "--heads", "2", "--seq-len", "32", "--batch", "2",
            "--shards", "2", "--warmup", "2", "--lr", "5e-3", "--log-every", "100"};

    @TempDir
    static Path data;

    record Result(int status, String stdout, String stderr) {}

    @BeforeAll
    static void tokenizeATinyText() throws Exception {
        assertTrue(Files.isRegularFile(TRAIN_JAR), TRAIN_JAR + " is built by 'mvn package'");
        CliTest.writeStories(data.resolve("train.txt"), TrainingTest.generatedStories(150, 1));
        CliTest.writeStories(data.resolve("valid.txt"), TrainingTest.generatedStories(15, 2));
        ok(train(data, "tokenizer", "--text", "train.txt", "--vocab", "300", "--out", "tok.bin"));
        ok(train(data, "prepare", "--text", "train.txt", "--tokenizer", "tok.bin", "--out", "train.tok"));
        ok(train(data, "prepare", "--text", "valid.txt", "--tokenizer", "tok.bin", "--out", "valid.tok"));
    }

    // ------------------------------------------------------------------ kill -9 during saves

    @Test
    void killedAtRandomMomentsTheRunResumesToTheBitIdenticalModel(@TempDir Path dir) throws Exception {
        Path reference = dir.resolve("reference"), killed = dir.resolve("killed");
        ok(train(dir, trainArgs(reference, false)));
        Random random = new Random(42);
        int kills = 0, saved = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            boolean resume = Files.exists(killed.resolve("checkpoint.bin"));
            Process p = start(dir, Map.of(), javaJar(TRAIN_JAR, trainArgs(killed, resume)));
            // kill a few milliseconds after a randomly chosen save: inside the next step's saves, or between them
            int target = saved + 1 + random.nextInt(5);
            boolean finished = false;
            while (!finished && lastSavedStep(p) < target && System.nanoTime() < deadline) {
                finished = p.waitFor(10, TimeUnit.MILLISECONDS);
            }
            if (!finished && kills < 8 && System.nanoTime() < deadline) {
                Thread.sleep(random.nextInt(40));
                killTree(p);
                kills++;
                saved = Math.max(saved, lastSavedStep(p));
                assertEveryFileWhole(killed);
                continue;
            }
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the last run finishes");
            assertEquals(0, p.exitValue(), read(p));
            break;
        }
        System.out.println("kill -9 " + kills + " times, then resumed to the end");
        assertTrue(kills >= 3, "killed " + kills + " times");
        for (String f : new String[] {"model.bin", "best.bin", "best.txt"}) {
            assertArrayEquals(Files.readAllBytes(reference.resolve(f)), Files.readAllBytes(killed.resolve(f)),
                    f + " after " + kills + " kills and resumes");
        }
        assertNoTemporaries(killed);
    }

    /** The last step whose checkpoint the process reported saved. */
    static int lastSavedStep(Process p) throws IOException {
        int last = 0;
        for (String line : Files.readAllLines(LOGS.get(p)[0])) {
            if (line.startsWith("step ") && line.contains("| saved checkpoint.bin")) {
                last = Integer.parseInt(line.substring(5, line.indexOf(' ', 5)));
            }
        }
        return last;
    }

    static String[] trainArgs(Path outDir, boolean resume) {
        List<String> args = new ArrayList<>(List.of("train", "--train-data", data.resolve("train.tok").toString(),
                "--valid-data", data.resolve("valid.tok").toString(), "--out-dir", outDir.toString(), "--threads", "1"));
        args.addAll(List.of(MODEL)); // the same command + --resume, as the README says
        args.addAll(List.of("--steps", "40", "--checkpoint-every", "1", "--eval-every", "3", "--eval-windows", "4"));
        if (resume) {
            args.add("--resume");
        }
        return args.toArray(new String[0]);
    }

    /** What a kill may leave: each file the old or the new version, whole; temporaries only of the dead process. */
    static void assertEveryFileWhole(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        for (Path f : list(dir)) {
            String name = f.getFileName().toString();
            switch (name) {
                case "checkpoint.bin" -> TrainingCheckpoint.load(f);
                case "model.bin", "best.bin" -> Checkpoint.read(SafeFiles.map(f), name);
                case "best.txt" -> assertTrue(Files.readString(f).matches("\\d+ [0-9.E-]+\\n"), Files.readString(f));
                case "losses.csv" -> LossLog.open(f, Integer.MAX_VALUE); // a row cut short by the kill is dropped
                default -> assertTrue(name.startsWith(".") && name.endsWith(".tmp"), "unexpected file " + name);
            }
        }
    }

    // ------------------------------------------------------------------ concurrent writers

    @Test
    void concurrentWritersOfOneFileLeaveOneWholeResult(@TempDir Path dir) throws Exception {
        Path model = trainedModel(dir);
        int[] groups = {16, 8, 4, 2};
        List<byte[]> expected = new ArrayList<>();
        Checkpoint checkpoint = Checkpoint.read(SafeFiles.map(model), "model");
        for (int g : groups) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            Checkpoint.write(checkpoint.weights(), 2, g, bytes);
            expected.add(bytes.toByteArray());
        }
        Path out = dir.resolve("q.bin");
        for (int round = 0; round < 3; round++) {
            List<Process> writers = new ArrayList<>();
            for (int g : groups) {
                writers.add(start(dir, Map.of(), javaJar(engineJar(), "quantize", model.toString(), out.toString(),
                        "--group", Integer.toString(g))));
            }
            for (Process p : writers) {
                assertTrue(p.waitFor(60, TimeUnit.SECONDS));
                assertEquals(0, p.exitValue(), read(p));
            }
            byte[] result = Files.readAllBytes(out);
            assertTrue(expected.stream().anyMatch(e -> Arrays.equals(e, result)), "round " + round + ": a mixed file");
        }
        assertNoTemporaries(dir);
    }

    // ------------------------------------------------------------------ a full disk

    @Test
    void aFullDiskKeepsThePreviousFiles(@TempDir Path dir) throws Exception {
        Path disk = dir.resolve("disk");
        Files.createDirectories(disk);
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", disk.toString())
                .redirectErrorStream(true).start();
        boolean mounted = mount.waitFor(10, TimeUnit.SECONDS) && mount.exitValue() == 0;
        Assumptions.assumeTrue(mounted, "a full disk needs 'mount -t tmpfs' (root): " + read(mount).strip());
        try {
            Path model = trainedModel(dir);
            Path run = disk.resolve("run");
            ok(train(dir, "train", "--train-data", data.resolve("train.tok").toString(), "--out-dir", run.toString(),
                    "--steps", "2", "--threads", "1", MODEL[0], MODEL[1], MODEL[2], MODEL[3], MODEL[4], MODEL[5],
                    MODEL[6], MODEL[7], MODEL[8], MODEL[9], MODEL[10], MODEL[11]));
            Path q = disk.resolve("q.bin");
            ok(run(dir, Map.of(), javaJar(engineJar(), "quantize", model.toString(), q.toString())));
            byte[] checkpointBefore = Files.readAllBytes(run.resolve("checkpoint.bin"));
            byte[] qBefore = Files.readAllBytes(q);
            fill(disk);

            Result quantize = run(dir, Map.of(), javaJar(engineJar(), "quantize", model.toString(), q.toString(), "--group", "2"));
            assertOneLineError(quantize, "writing " + q + ": No space left on device");
            Result resume = train(dir, "train", "--train-data", data.resolve("train.tok").toString(), "--out-dir",
                    run.toString(), "--resume", "--steps", "3");
            assertOneLineError(resume, ": No space left on device");
            assertTrue(resume.stderr().startsWith("error: writing " + run.resolve("")), resume.stderr()); // losses.csv or a save
            assertArrayEquals(qBefore, Files.readAllBytes(q));
            assertArrayEquals(checkpointBefore, Files.readAllBytes(run.resolve("checkpoint.bin")));
            assertNoTemporaries(disk);
            assertNoTemporaries(run);
        } finally {
            new ProcessBuilder("umount", disk.toString()).start().waitFor(10, TimeUnit.SECONDS);
        }
    }

    static void fill(Path disk) throws IOException {
        try (var out = Files.newOutputStream(disk.resolve("filler"))) {
            byte[] block = new byte[4096];
            while (true) {
                out.write(block);
            }
        } catch (IOException full) {
            // the disk is full
        }
    }

    // ------------------------------------------------------------------ hostile files and locales

    @Test
    void fifosAreRefusedNotWaitedOn(@TempDir Path dir) throws Exception {
        Path fifo = dir.resolve("fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        Assumptions.assumeTrue(mkfifo.waitFor(10, TimeUnit.SECONDS) && mkfifo.exitValue() == 0, "needs mkfifo");
        Path model = trainedModel(dir);
        String tok = data.resolve("tok.bin").toString(), f = fifo.toString();
        String expected = "fifo: not a regular file";
        assertOneLineError(run(dir, Map.of(), javaJar(engineJar(), "info", f)), expected);
        assertOneLineError(run(dir, Map.of(), javaJar(engineJar(), f, "-z", tok)), expected);
        assertOneLineError(run(dir, Map.of(), javaJar(engineJar(), model.toString(), "-z", f)), expected);
        assertOneLineError(run(dir, Map.of(), javaJar(engineJar(), "quantize", f, dir.resolve("q.bin").toString())), expected);
        assertOneLineError(train(dir, "eval", "--model", f, "--tokenizer", tok, "--text", f), expected);
        assertOneLineError(train(dir, "prepare", "--text", f, "--tokenizer", tok, "--out", "x.tok"), expected);
    }

    @Test
    void underLangCArgumentsAreTheBytesTyped(@TempDir Path dir) throws Exception {
        Path model = trainedModel(dir);
        Path accented = dir.resolve("modèle-é.bin");
        Files.copy(model, accented);
        String tok = data.resolve("tok.bin").toString();
        Map<String, String> c = Map.of("LANG", "C", "LC_ALL", "C");
        Result utf8 = run(dir, Map.of("LC_ALL", "C.UTF-8"), javaJar(engineJar(), model.toString(), "-z", tok, "-t", "0",
                "-n", "12", "-i", "Café où", "--ids"));
        ok(utf8);
        Result langC = run(dir, c, javaJar(engineJar(), accented.toString(), "-z", tok, "-t", "0", "-n", "12",
                "-i", "Café où", "--ids"));
        ok(langC);
        assertEquals(utf8.stdout(), langC.stdout(), "the same ids as the UTF-8 locale");
        assertFalse(langC.stdout().contains(" 0 "), langC.stdout());
        Result prepare = run(dir, c, javaJar(TRAIN_JAR, "prepare", "--text", data.resolve("valid.txt").toString(),
                "--tokenizer", tok, "--out", dir.resolve("jetons-é.tok").toString()));
        ok(prepare);
        assertTrue(Files.isRegularFile(dir.resolve("jetons-é.tok")), prepare.stdout());
    }

    @Test
    void aModelTruncatedWhileItLoadsEndsInOneLine(@TempDir Path dir) throws Exception {
        Path model = trainedModel(dir);
        ByteArrayOutputStream big = new ByteArrayOutputStream(); // large enough to be caught mid-read
        Checkpoint.write(llama2.engine.Weights.random(new llama2.engine.Config(256, 768, 6, 8, 8, 4096, 256, false), 1),
                1, 0, big);
        Random random = new Random(7);
        for (int round = 0; round < 6; round++) {
            Path file = dir.resolve("changing.bin");
            Files.write(file, big.toByteArray());
            Process p = start(dir, Map.of(), javaJar(engineJar(), "info", file.toString()));
            Thread.sleep(150 + random.nextInt(400));
            try (var channel = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                channel.truncate(1000);
            }
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            Path[] logs = LOGS.remove(p);
            Result r = new Result(p.exitValue(), Files.readString(logs[0]), Files.readString(logs[1]));
            if (r.status() != 0) { // or it finished reading first
                assertOneLineError(r, "");
                assertTrue(r.stderr().contains("changing.bin") || r.stderr().contains("a file changed"), r.stderr());
            }
        }
        assertTrue(Files.exists(model));
    }

    @Test
    void aFailedStdoutIsReported(@TempDir Path dir) throws Exception {
        Path model = trainedModel(dir);
        Process p = new ProcessBuilder(javaJar(engineJar(), model.toString(), "-z", data.resolve("tok.bin").toString(), "-n", "20"))
                .redirectOutput(new File("/dev/full")).redirectError(dir.resolve("err").toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String err = Files.readString(dir.resolve("err"));
        assertEquals(1, p.exitValue(), err);
        assertTrue(err.lines().anyMatch(l -> l.equals("error: cannot write to standard output (closed, or the disk is full)")), err);
    }

    @Test
    void badInputToTheTrainerJarIsOneLineWithoutTheIncubatorWarning(@TempDir Path dir) throws Exception {
        Path text = dir.resolve("binary.txt");
        Files.write(text, new byte[] {'a', 0, 'b'});
        assertOneLineError(train(dir, "tokenizer", "--text", text.toString(), "--vocab", "300", "--out", "t.bin"),
                "binary.txt: a NUL byte at offset 1");
        Result help = train(dir, "--help");
        assertEquals("", help.stderr(), "no JVM warning");
    }

    // ------------------------------------------------------------------ helpers

    /** A small trained model (version 0), made once per test directory. */
    static Path trainedModel(Path dir) throws Exception {
        Path run = dir.resolve("model-run");
        ok(train(dir, "train", "--train-data", data.resolve("train.tok").toString(), "--out-dir", run.toString(),
                "--steps", "2", "--threads", "1", MODEL[0], MODEL[1], MODEL[2], MODEL[3], MODEL[4], MODEL[5],
                MODEL[6], MODEL[7], MODEL[8], MODEL[9], MODEL[10], MODEL[11]));
        return run.resolve("model.bin");
    }

    static Path engineJar() {
        Assumptions.assumeTrue(Files.isRegularFile(ENGINE_JAR), "the engine jar " + ENGINE_JAR + " is built by 'mvn package'");
        return ENGINE_JAR;
    }

    static Result train(Path dir, String... args) throws Exception {
        return run(dir, Map.of(), javaJar(TRAIN_JAR, args));
    }

    static List<String> javaJar(Path jar, String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-jar", jar.toAbsolutePath().toString()));
        command.addAll(List.of(args));
        return command;
    }

    static Process start(Path dir, Map<String, String> env, List<String> command) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile());
        builder.environment().putAll(env);
        Path out = Files.createTempFile(dir, "stdout", ".log"), err = Files.createTempFile(dir, "stderr", ".log");
        builder.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = builder.start();
        LOGS.put(p, new Path[] {out, err});
        return p;
    }

    static final Map<Process, Path[]> LOGS = new java.util.concurrent.ConcurrentHashMap<>();

    static Result run(Path dir, Map<String, String> env, List<String> command) throws Exception {
        Process p = start(dir, env, command);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            killTree(p);
            fail("still running after 120 s: " + command);
        }
        Path[] logs = LOGS.remove(p);
        Result r = new Result(p.exitValue(), Files.readString(logs[0]), Files.readString(logs[1]));
        Files.delete(logs[0]);
        Files.delete(logs[1]);
        return r;
    }

    static String read(Process p) throws IOException {
        Path[] logs = LOGS.get(p);
        return logs == null ? new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                : Files.readString(logs[0]) + Files.readString(logs[1]);
    }

    /** kill -9 of the process and the JVM it started (the trainer restarts itself with the Vector API). */
    static void killTree(Process p) throws InterruptedException {
        List<ProcessHandle> all = new ArrayList<>(p.descendants().toList());
        all.forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(30, TimeUnit.SECONDS);
        for (ProcessHandle h : all) {
            h.onExit().join();
        }
    }

    static void ok(Result r) {
        assertEquals(0, r.status(), r.stdout() + r.stderr());
    }

    static void assertOneLineError(Result r, String expectedPart) {
        assertNotEquals(0, r.status(), r.stderr());
        assertEquals(1, r.stderr().lines().count(), "one line: " + r.stderr());
        assertTrue(r.stderr().startsWith("error: "), r.stderr());
        assertTrue(r.stderr().contains(expectedPart), "expected '" + expectedPart + "' in " + r.stderr());
        assertFalse(r.stderr().contains("Exception") || r.stderr().contains("\tat "), r.stderr());
    }

    static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> !f.getFileName().toString().matches("std(out|err).*\\.log")).toList();
        }
    }

    static void assertNoTemporaries(Path dir) throws IOException {
        for (Path f : list(dir)) {
            assertFalse(f.getFileName().toString().endsWith(".tmp"), "left behind: " + f);
        }
    }
}
