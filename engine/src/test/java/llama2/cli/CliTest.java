package llama2.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import llama2.engine.GoldenCase;
import llama2.engine.Shared;

/** The command line, in process (for its output) and as a real process (for exit codes). */
class CliTest {

    static String run(String... args) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        assertEquals(0, Main.run(args, out));
        out.flush();
        return bytes.toString(StandardCharsets.UTF_8);
    }

    static String[] argsFor(GoldenCase c, String... extra) {
        List<String> args = new ArrayList<>(List.of(Shared.model(c.model()).toString(),
                "-z", Shared.model(c.tokenizer()).toString(), "-t", Float.toString(c.temperature()),
                "-p", Float.toString(c.topp()), "-s", Long.toString(c.seed()), "-n", Integer.toString(c.steps()),
                "-i", c.prompt()));
        args.addAll(Arrays.asList(extra));
        return args.toArray(new String[0]);
    }

    /** The golden cases whose stdout the reference recorded. */
    static List<GoldenCase> casesWithText() {
        if (!Shared.exists()) {
            return GoldenCase.orSkipped();
        }
        return GoldenCase.all().stream().filter(c -> Files.exists(Shared.golden("text/" + c.name() + ".txt"))).toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("casesWithText")
    void stdoutIsByteIdenticalToRunC(GoldenCase c) throws IOException {
        Shared.dir();
        byte[] expected = Files.readAllBytes(Shared.golden("text/" + c.name() + ".txt"));
        assertEquals(new String(expected, StandardCharsets.UTF_8), run(argsFor(c)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("casesWithText")
    void idsFlagPrintsTheWholeSequence(GoldenCase c) throws IOException {
        Shared.dir();
        String printed = run(argsFor(c, "--ids")).trim();
        int[] ids = Arrays.stream(printed.split(" ")).mapToInt(Integer::parseInt).toArray();
        assertArrayEquals(c.ids(), ids);
    }

    @Test
    void infoDescribesACheckpoint() throws IOException {
        String info = run("info", Shared.model("stories260K_q80.bin").toString());
        assertTrue(info.contains("version 2 (Q8_0, group size 4)"), info);
        assertTrue(info.contains("dim:         64"), info);
        assertTrue(info.contains("n_kv_heads:  4"), info);
        assertTrue(info.contains("bytes:       521728"), info);
    }

    @Test
    void quantizeWritesWhatLlamaCsExporterWrites(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("q.bin");
        String printed = run("quantize", Shared.model("stories260K.bin").toString(), out.toString(), "--group", "4");
        assertTrue(printed.contains("group size 4"), printed);
        assertArrayEquals(Files.readAllBytes(Shared.model("stories260K_q80.bin")), Files.readAllBytes(out));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(out), files.toList(), "no temporary file left beside the output");
        }
    }

    @Test
    void quantizeChoosesAGroupSizeThatDividesBothDimensions(@TempDir Path dir) throws IOException {
        // stories260K: dim 64, hidden_dim 172 = 4 * 43, so only 4 (or 2, 1) divides both
        String printed = run("quantize", Shared.model("stories260K.bin").toString(), dir.resolve("q.bin").toString());
        assertTrue(printed.contains("group size 4"), printed);
    }

    @Test
    void benchReportsEveryFormat() throws IOException {
        String table = run("bench", "--shapes", "260K", "--tokens", "8");
        assertTrue(table.lines().anyMatch(l -> l.startsWith("260K") && l.contains("fp32")), table);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("260K") && l.contains("Q8_0 (group 4)")), table);
    }

    @Test
    void helpExplainsTheFlags() throws IOException {
        String help = run("--help");
        for (String flag : new String[] {"-t", "-p", "-s", "-n", "-i", "-z", "-m", "-y", "--ids", "info", "quantize", "bench"}) {
            assertTrue(help.contains(flag), flag);
        }
    }

    // ---- errors, as a user sees them: a separate java process

    record Result(int status, String stdout, String stderr) {}

    static Result process(String... args) throws IOException, InterruptedException {
        return processWithInput("", args);
    }

    static Result processWithInput(String stdin, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(command).start();
        p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    static void assertOneLineError(Result r, String expectedPart) {
        assertEquals(1, r.status(), r.stderr());
        assertEquals(1, r.stderr().lines().count(), "one line: " + r.stderr());
        assertTrue(r.stderr().startsWith("error: "), r.stderr());
        assertTrue(r.stderr().contains(expectedPart), r.stderr());
        assertFalse(r.stderr().contains("Exception") || r.stderr().contains("\tat "), r.stderr());
    }

    @Test
    void badInputEndsWithOneLineAndStatusOne(@TempDir Path dir) throws Exception {
        String model = Shared.model("stories260K.bin").toString();
        String tok = Shared.model("tok512.bin").toString();
        assertOneLineError(process(dir.resolve("missing.bin").toString()), "missing.bin: no such file");
        Path truncated = dir.resolve("truncated.bin");
        Files.write(truncated, Arrays.copyOf(Files.readAllBytes(Path.of(model)), 5000));
        assertOneLineError(process(truncated.toString(), "-z", tok), "truncated.bin: size 5000 bytes does not match");
        assertOneLineError(process(model, "-z", tok, "-t", "-1"), "temperature must be a number, 0 or more (0 always picks the likeliest token), found -1.0");
        assertOneLineError(process(model, "-z", tok, "-p", "1.5"), "top-p must be a number from 0 to 1 (0 and 1 turn it off), found 1.5");
        assertOneLineError(process(model, "-z", tok, "-n", "-5"), "steps must be a whole number, 0 or more (0 means the model's whole context), found -5");
        assertOneLineError(process(model, "-z", tok, "-t", "hot"), "-t expects a number, found 'hot'");
        assertOneLineError(process(model, "-z", tok, "-x", "1"), "unknown option -x");
        assertOneLineError(process(model, "-z", tok, "-i"), "-i needs a value");
        assertOneLineError(process(model, "-z", tok, "-m", "poem"), "-m: mode must be generate or chat");
        assertOneLineError(process(Shared.model("tiny32k_v0.bin").toString(), "-z", tok),
                "tok512.bin: holds only 512 tokens, the model needs 32000");
        assertOneLineError(process(model, "-z", model), "stories260K.bin: token 2 has length 265839806");
        assertOneLineError(process(model, "-z", tok, "-i", "Once upon a time ".repeat(200)),
                "more than the model's context (seq_len) of 512");
        assertOneLineError(process("quantize", model, dir.resolve("q.bin").toString(), "--group", "3"),
                "group_size 3 does not divide both dim 64 and hidden_dim 172");
        try (var files = Files.list(dir)) {
            assertEquals(List.of(truncated), files.toList(), "nothing half-written");
        }
    }

    /**
     * The expected transcripts are what llama2.c's run.c (built with gcc -O3) printed for the
     * same arguments and input; stories260K is no chat model, but the loop is the same.
     */
    @Test
    void chatFollowsRunC() throws Exception {
        String model = Shared.model("stories260K.bin").toString();
        String tok = Shared.model("tok512.bin").toString();
        Result withSystem = processWithInput("Hi there\nTell me a story\n",
                model, "-z", tok, "-m", "chat", "-y", "be nice", "-n", "120", "-s", "3", "-t", "0.8");
        assertEquals(0, withSystem.status(), withSystem.stderr());
        assertEquals("User: Assistant: , Allie was so happy. She said Annap and said, \"Okay, Kay!\" \n"
                + "But then, Annal man smiled and said, \"I can show you see you, Amy!\" \nThey d\n", withSystem.stdout());
        Result askingSystem = processWithInput("Once\n", model, "-z", tok, "-m", "chat", "-n", "60", "-s", "5", "-t", "0.5", "-i", "Hello");
        assertEquals("Enter system prompt (optional): Assistant:  were all old. Where were two ta\n", askingSystem.stdout());
    }

    @Test
    void successPrintsTextAndSpeed() throws Exception {
        Result r = process(Shared.model("stories260K.bin").toString(), "-z", Shared.model("tok512.bin").toString(),
                "-t", "0", "-n", "20");
        assertEquals(0, r.status(), r.stderr());
        assertTrue(r.stdout().startsWith("Once upon a time"), r.stdout());
        assertTrue(r.stderr().matches("achieved tok/s: [0-9.]+\\R"), r.stderr());
    }
}
