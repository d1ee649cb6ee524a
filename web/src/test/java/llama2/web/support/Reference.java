package llama2.web.support;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import llama2.engine.Checkpoint;
import llama2.engine.Generation;
import llama2.engine.GoldenCase;
import llama2.engine.Sampler;
import llama2.engine.Tokenizer;
import llama2.engine.Transformer;

/** What the browser must reproduce: the engine on the JVM (as the CLI runs it) and the golden files. */
public final class Reference {
    private Reference() {
    }

    /** The ids {@code llama2.jar model -z tokenizer -t -p -s -n -i prompt --ids} prints. */
    public static String jvmIds(Path model, Path tokenizer, float temperature, float topp, long seed, int steps,
                                String prompt) throws IOException {
        Checkpoint checkpoint = Checkpoint.read(littleEndian(Files.readAllBytes(model)));
        Tokenizer vocabulary = Tokenizer.read(littleEndian(Files.readAllBytes(tokenizer)),
                checkpoint.config().vocabSize());
        Sampler sampler = new Sampler(checkpoint.config().vocabSize(), temperature, topp, seed);
        Generation generation = new Generation(new Transformer(checkpoint.weights()), vocabulary, sampler, prompt, steps);
        while (!generation.step().isLast()) {
            // run to the end, as the CLI does
        }
        return join(generation.ids());
    }

    /**
     * Writes to {@code out} what {@code llama2.jar quantize model out} writes: the checkpoint as
     * version 2 (Q8_0) in its default group size.
     */
    public static void quantize(Path model, Path out) throws IOException {
        Checkpoint checkpoint = Checkpoint.read(littleEndian(Files.readAllBytes(model)));
        try (java.io.OutputStream stream = Files.newOutputStream(out)) {
            Checkpoint.write(checkpoint.weights(), 2, Checkpoint.defaultGroupSize(checkpoint.config()), stream);
        }
    }

    /** Runs {@code java -jar llama2.jar quantize model out}. */
    public static void cliQuantize(Path jar, Path model, Path out) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process cli = new ProcessBuilder(java, "-jar", jar.toString(), "quantize", model.toString(), out.toString())
                .redirectErrorStream(true)
                .start();
        String said = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (cli.waitFor() != 0) {
            throw new AssertionError("the CLI's quantize failed: " + said);
        }
    }

    /** The CLI jar built by the engine module, if it is there. */
    public static java.util.Optional<Path> cliJar() {
        Path jar = Path.of(System.getProperty("cli.jar", "../engine/target/llama2.jar"));
        return Files.isRegularFile(jar) ? java.util.Optional.of(jar) : java.util.Optional.empty();
    }

    /** Runs {@code java -jar llama2.jar ... --ids} and returns the ids line it prints. */
    public static String cliIds(Path jar, Path model, Path tokenizer, float temperature, float topp, long seed,
                                int steps, String prompt) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process cli = new ProcessBuilder(java, "-jar", jar.toString(), model.toString(), "-z", tokenizer.toString(),
                "-t", Float.toString(temperature), "-p", Float.toString(topp), "-s", Long.toString(seed),
                "-n", Integer.toString(steps), "-i", prompt, "--ids")
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        String out = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (cli.waitFor() != 0) {
            throw new AssertionError("the CLI failed: " + out);
        }
        return out.lines().filter(line -> line.matches("[0-9 ]+")).reduce((a, b) -> b)
                .orElseThrow(() -> new AssertionError("the CLI printed no ids: " + out)).trim();
    }

    /** One case of the shared golden/generate.tsv by name, as the engine's golden tests read it. */
    public static GoldenCase golden(String name) {
        return GoldenCase.all().stream().filter(c -> c.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no case " + name + " in golden/generate.tsv"));
    }

    /** Ids as the CLI prints them: space-separated. */
    public static String join(int[] ids) {
        return Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" "));
    }

    private static ByteBuffer littleEndian(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
