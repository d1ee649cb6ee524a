package llama2.web.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The command-line trainer ({@code train/target/llama2-train.jar}, built earlier in the same
 * reactor build) run as a process: what the browser's trainer must reproduce byte for byte.
 */
final class TrainCli {
    private TrainCli() {}

    /** The jar, if the train module was built. */
    static Optional<Path> jar() {
        Path jar = Path.of(System.getProperty("train.jar", "../train/target/llama2-train.jar"));
        return Files.isRegularFile(jar) ? Optional.of(jar) : Optional.empty();
    }

    /** A tiny model's shape and a short run's settings, named as the page and the CLI both know them. */
    record Run(int vocab, int dim, int hidden, int layers, int heads, int kvHeads, int seqLen, int steps, int batch,
               String lr, int warmup, int shards, long seed) {
    }

    /** What a run from scratch writes: tokenizer.bin, model.bin (llama2.c version 0), the last validation loss. */
    record Files2(byte[] tokenizer, byte[] model, double validLoss) {
    }

    /**
     * {@code tokenizer} on the whole text, {@code prepare --valid-out} (its last tenth of stories
     * held out, as the page holds them out), {@code train --kernels portable} on them, in {@code dir}.
     */
    static Files2 scratch(Path jar, Path text, Run run, Path dir) throws IOException, InterruptedException {
        Path tokenizer = dir.resolve("tokenizer.bin"), out = dir.resolve("run");
        Files.createDirectories(out);
        cli(jar, "tokenizer", "--text", text.toString(), "--vocab", "" + run.vocab(), "--out", tokenizer.toString());
        Path[] tokens = prepare(jar, text, tokenizer, run.seqLen(), dir);
        cli(jar, "train", "--train-data", tokens[0].toString(), "--valid-data", tokens[1].toString(), "--out-dir", out.toString(),
                "--kernels", "portable", "--dim", "" + run.dim(), "--hidden", "" + run.hidden(), "--layers", "" + run.layers(),
                "--heads", "" + run.heads(), "--kv-heads", "" + run.kvHeads(), "--seq-len", "" + run.seqLen(),
                "--steps", "" + run.steps(), "--batch", "" + run.batch(), "--lr", run.lr(), "--warmup", "" + run.warmup(),
                "--shards", "" + run.shards(), "--threads", "" + run.shards(), "--seed", "" + run.seed(),
                "--eval-every", "" + run.steps(), "--eval-windows", "" + Training.VALID_WINDOWS);
        return new Files2(Files.readAllBytes(tokenizer), Files.readAllBytes(out.resolve("model.bin")),
                Double.parseDouble(Files.readString(out.resolve("best.txt")).strip().split(" ")[1]));
    }

    /** {@code prepare --valid-out}: the text's training part and held-out part as train.tok and valid.tok in {@code dir}. */
    static Path[] prepare(Path jar, Path text, Path tokenizer, int seqLen, Path dir) throws IOException, InterruptedException {
        Path[] tokens = {dir.resolve("train.tok"), dir.resolve("valid.tok")};
        cli(jar, "prepare", "--text", text.toString(), "--tokenizer", tokenizer.toString(), "--out", tokens[0].toString(),
                "--valid-out", tokens[1].toString(), "--seq-len", "" + seqLen);
        return tokens;
    }

    /** One command of the jar; its output if it succeeds. */
    static String cli(Path jar, String... args) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "-jar", jar.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new AssertionError("llama2-train.jar " + String.join(" ", args) + " failed:\n" + output);
        }
        return output;
    }

    /** Stories of a small made-up world, separated by lines {@code <|endoftext|>}, the same for a seed. */
    static String stories(int count, long seed) {
        String[] names = {"Tom", "Lily", "Ben", "Mia", "Sam", "Anna"};
        String[] things = {"ball", "cat", "tree", "boat", "cake", "kite"};
        String[] moods = {"happy", "sad", "tired", "brave"};
        java.util.Random random = new java.util.Random(seed);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < count; i++) {
            String name = names[random.nextInt(names.length)], thing = things[random.nextInt(things.length)];
            text.append("Once upon a time, ").append(name).append(" had a ").append(thing).append(". ")
                    .append(name).append(" was ").append(moods[random.nextInt(moods.length)]).append(". The ")
                    .append(thing).append(" was big and red, and ").append(name).append(" loved the ").append(thing)
                    .append(".\n<|endoftext|>\n");
        }
        return text.toString();
    }
}
