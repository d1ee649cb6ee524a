package llama2.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.Sampler;
import llama2.engine.Tokenizer;
import llama2.engine.Transformer;
import llama2.engine.Weights;
import llama2.jvm.FastKernels;
import llama2.jvm.ThreadedShards;

/**
 * {@code bench}: generation speed on random-weight models of the published shapes, fp32 and
 * Q8_0, on one thread and on all cores (shape × format × threads), built in memory so no download is needed. Random weights cost the same arithmetic as
 * trained ones; only the text is nonsense.
 */
final class BenchCommand {
    /** The shapes of Karpathy's TinyStories models (dim, hidden, layers, heads, kv heads, vocab, seq_len). */
    static final List<Shape> SHAPES = List.of(
            new Shape("260K", new Config(64, 172, 5, 8, 4, 512, 512, true)),
            new Shape("15M", new Config(288, 768, 6, 6, 6, 32000, 256, true)),
            new Shape("42M", new Config(512, 1376, 8, 8, 8, 32000, 1024, true)),
            new Shape("110M", new Config(768, 2048, 12, 12, 12, 32000, 1024, true)));

    record Shape(String name, Config config) {}

    private BenchCommand() {}

    static void run(String[] args, PrintStream out) {
        int tokens = 256;
        List<Shape> shapes = new ArrayList<>(SHAPES.subList(1, SHAPES.size()));
        int cores = Runtime.getRuntime().availableProcessors();
        List<Integer> threadCounts = cores == 1 ? List.of(1) : List.of(1, cores);
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            String value = Flags.valueOf(args, i++);
            switch (flag) {
                case "--tokens" -> tokens = Flags.parseInt(flag, value);
                case "--shapes" -> shapes = parseShapes(value);
                case "--threads" -> threadCounts = parseThreads(value);
                default -> throw new BadInputException("unknown bench option " + flag + " (--tokens, --shapes, --threads)");
            }
        }
        if (tokens < 2) {
            throw new BadInputException("--tokens must be at least 2, found " + tokens);
        }
        out.printf("kernels: %s%n", FastKernels.AVAILABLE ? "SIMD (jdk.incubator.vector)"
                : "portable (start java with --add-modules jdk.incubator.vector for SIMD)");
        out.printf("%-6s %-18s %7s %10s %10s%n", "shape", "format", "threads", "tok/s", "ms/token");
        for (Shape shape : shapes) {
            Weights portable = Weights.random(shape.config(), 42);
            int groupSize = Checkpoint.defaultGroupSize(shape.config());
            Weights weights = FastKernels.of(portable);
            Weights quantized = FastKernels.of(portable.quantized(groupSize));
            for (int threads : threadCounts) {
                report(out, shape, "fp32", weights, threads, tokens);
                report(out, shape, "Q8_0 (group " + groupSize + ")", quantized, threads, tokens);
            }
        }
    }

    private static List<Integer> parseThreads(String list) {
        List<Integer> counts = new ArrayList<>();
        for (String count : list.split(",")) {
            int n = Flags.parseInt("--threads", count.trim());
            if (n < 1) {
                throw new BadInputException("--threads must be at least 1, found " + n);
            }
            counts.add(n);
        }
        return counts;
    }

    private static List<Shape> parseShapes(String list) {
        List<Shape> chosen = new ArrayList<>();
        for (String name : list.split(",")) {
            Shape shape = SHAPES.stream().filter(s -> s.name().equalsIgnoreCase(name.trim())).findFirst()
                    .orElseThrow(() -> new BadInputException("--shapes: unknown shape '" + name + "' (260K, 15M, 42M, 110M)"));
            chosen.add(shape);
        }
        return chosen;
    }

    private static void report(PrintStream out, Shape shape, String format, Weights weights, int threads, int tokens) {
        int steps = Math.min(tokens, shape.config().seqLen());
        run(weights, threads, Math.min(32, steps)); // warm up the JIT
        double seconds = run(weights, threads, steps);
        double perToken = seconds / (steps - 1);
        out.printf("%-6s %-18s %7d %10.1f %10.2f%n", shape.name(), format, threads, 1 / perToken, perToken * 1000);
        out.flush();
    }

    /**
     * Seconds for {@code steps} positions of forward pass and greedy sampling, the first
     * position excluded as run.c does. Greedy, because top-p on random weights would sort all
     * 32,000 nearly equal probabilities at every token, which a trained model never asks for.
     */
    private static double run(Weights weights, int threads, int steps) {
        try (ThreadedShards shards = new ThreadedShards(weights, threads)) {
            Transformer transformer = shards.transformer();
            Sampler sampler = new Sampler(weights.config().vocabSize(), 0f, 0.9f, 1234);
            int token = sampler.sample(transformer.forward(Tokenizer.BOS, 0));
            long start = System.nanoTime();
            for (int pos = 1; pos < steps; pos++) {
                token = sampler.sample(transformer.forward(token, pos));
            }
            return (System.nanoTime() - start) / 1e9;
        }
    }
}
