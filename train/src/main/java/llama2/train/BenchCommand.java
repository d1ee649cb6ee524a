package llama2.train;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import llama2.engine.BadInputException;
import llama2.engine.Config;

/**
 * The {@code bench} subcommand: training speed of the standard shapes with each kernel set and
 * thread count, and how much of the machine's arithmetic it uses.
 */
final class BenchCommand {
    private BenchCommand() {}

    static final String HELP = """
            usage: bench [--configs dim128,dim256] [--kernels vector,portable] [--threads 1,N]
                         [--steps N (3)] [--batch N (8)]
            Trains each shape on random tokens (seq_len 256, vocab 2048, 6 layers, 8 heads) for one
            warm-up step and --steps timed steps of --batch windows, and prints:
              tok/s   training tokens per second (wall clock; the median step)
              tok/cpu-s  tokens per second of the process's CPU time (all its threads): what the
                      cores it got achieved, steadier than tok/s on a machine shared with others
              GFLOP/s achieved per CPU-second: tok/cpu-s x FLOPs per token, where FLOPs per token =
                      6 x (weights in matrix products: each layer's seven and the classifier)
                      + 6 x layers x dim x (seq_len + 1) for attention's two products over the
                      causal half (forward 2 x 2 x dim x (seq_len + 1) / 2, backward twice that)
              MFU     that / one core's FMA peak, measured first (in thread CPU time) by a loop of
                      independent vector fused multiply-adds (needs the vector module)
            dim128 is stories1.5M's shape (dim 128, hidden 352), dim256 the default model's,
            stories5M's (dim 256, hidden 704); tiny and small are the Train view's presets: tiny
            stories260K's shape (dim 64, hidden 172, 5 layers, 4 key/value heads, vocab 512), small dim128. Defaults: both shapes, the vector kernels (when java runs with
            --add-modules jdk.incubator.vector) then the portable ones, 1 thread and all cores.
            The figures vary with what else the machine runs: compare ratios measured together.
            """;

    private static final Set<String> FLAGS = Set.of("--configs", "--kernels", "--threads", "--steps", "--batch");
    private static final int SEQ_LEN = 256, VOCAB = 2048, LAYERS = 6, HEADS = 8;

    static void run(String[] argv, PrintStream out) {
        Args a = new Args("bench", argv, FLAGS, Set.of());
        int cores = Runtime.getRuntime().availableProcessors();
        List<String> configs = list(a.string("--configs", "dim128,dim256"));
        List<String> kernels = list(a.string("--kernels", KernelChoice.vectorAvailable() ? "vector,portable" : "portable"));
        List<String> threadCounts = list(a.string("--threads", cores > 1 ? "1," + cores : "1"));
        int steps = Math.max(1, a.integer("--steps", 3));
        int batch = Math.max(1, a.integer("--batch", 8));
        for (String k : kernels) {
            KernelChoice.named("bench", k);
        }
        List<Config> shapes = new ArrayList<>();
        for (String name : configs) {
            shapes.add(shape(name));
        }
        double peak = Double.NaN;
        if (KernelChoice.vectorAvailable()) {
            peak = VectorKernels.peakFlopsPerCore();
            out.printf(Locale.ROOT, "FMA peak of one core: %.1f GFLOP/s (%d-lane vectors)%n", peak / 1e9, VectorKernels.lanes());
        } else {
            out.println("FMA peak: not measured (needs java --add-modules jdk.incubator.vector); no MFU column");
        }
        out.printf(Locale.ROOT, "%-7s %-9s %7s %9s %9s %9s %7s%n", "shape", "kernels", "threads", "tok/s", "tok/cpu-s",
                "GFLOP/s", "MFU");
        for (int s = 0; s < shapes.size(); s++) {
            Config c = shapes.get(s);
            double flopsPerToken = flopsPerToken(c);
            for (String k : kernels) {
                Kernels.use(KernelChoice.named("bench", k));
                for (String t : threadCounts) {
                    int threads = positive(t);
                    double[] speed = speed(c, threads, steps, batch);
                    double flops = speed[1] * flopsPerToken;
                    out.printf(Locale.ROOT, "%-7s %-9s %7d %9.0f %9.0f %9.1f %6.1f%%%n", configs.get(s), k, threads,
                            speed[0], speed[1], flops / 1e9, 100 * flops / peak);
                    out.flush();
                }
            }
        }
    }

    static Config shape(String name) {
        return switch (name) {
            case "dim128" -> standard(128);
            case "dim256" -> standard(256);
            case "tiny", "small" -> Preset.named(name).config();
            default -> throw new BadInputException("bench: --configs takes dim128, dim256, tiny and small, got '" + name + "'");
        };
    }

    private static Config standard(int dim) {
        return new Config(dim, TrainCommand.defaultHidden(dim), LAYERS, HEADS, HEADS, VOCAB, SEQ_LEN, true).validate("bench");
    }

    /** Multiply-adds count two: six per weight per token (forward, and the two backward products), plus attention. */
    static double flopsPerToken(Config c) {
        double kvDim = (double) c.dim() * c.nKvHeads() / c.nHeads();
        double perLayer = 2.0 * c.dim() * c.dim() + 2 * c.dim() * kvDim + 3.0 * c.dim() * c.hiddenDim();
        double matrixWeights = c.nLayers() * perLayer + (double) c.dim() * c.vocabSize();
        return 6 * matrixWeights + 6.0 * c.nLayers() * c.dim() * (c.seqLen() + 1);
    }

    /**
     * Tokens per second of the median step, and tokens per CPU-second of the process over all the
     * timed steps, after one step that warms up the compiler.
     */
    private static double[] speed(Config c, int threads, int steps, int batch) {
        ParameterLayout layout = new ParameterLayout(c);
        Model model = new Model(layout, layout.initialise(new Rng(1)));
        Hyperparameters hp = new Hyperparameters(steps + 1, batch, 1, 1e-3f, 1e-4f, 0, 0.1f, 0.9f, 0.95f, 1f,
                threads, 1, 0f).validate();
        Rng rng = new Rng(7);
        int[] tokens = new int[64 * SEQ_LEN];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rng.nextInt(c.vocabSize());
        }
        double[] seconds = new double[steps];
        double cpuSeconds;
        try (Trainer trainer = new Trainer(model, hp, tokens, threads)) {
            trainer.trainStep();
            long cpuStart = processCpuNanos();
            for (int i = 0; i < steps; i++) {
                long start = System.nanoTime();
                trainer.trainStep();
                seconds[i] = (System.nanoTime() - start) / 1e9;
            }
            cpuSeconds = (processCpuNanos() - cpuStart) / 1e9;
        }
        Arrays.sort(seconds);
        double median = steps % 2 == 1 ? seconds[steps / 2] : (seconds[steps / 2 - 1] + seconds[steps / 2]) / 2;
        double tokensPerStep = (double) batch * c.seqLen();
        return new double[] {tokensPerStep / median, tokensPerStep * steps / cpuSeconds};
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private static List<String> list(String csv) {
        return List.of(csv.split(","));
    }

    private static int positive(String s) {
        try {
            int n = Integer.parseInt(s);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new BadInputException("bench: --threads takes positive integers, got '" + s + "'");
    }
}
