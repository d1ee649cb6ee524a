package llama2.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.io.SafeFiles;

/** The {@code train} subcommand: a fresh model, a fine-tune, or the resumption of either. */
final class TrainCommand {
    private TrainCommand() {}

    static final String HELP = """
            usage: train --train-data train.tok --out-dir DIR [options]
            Trains a Llama 2 model on a token file (see 'prepare') and writes into DIR:
              checkpoint.bin  training state (weights, AdamW moments, RNG, step): resume with --resume
              model.bin       the latest weights as a llama2.c version 0 file (engine, run.c)
              best.bin        the weights with the lowest validation loss so far (version 0)
              best.txt        that validation loss and its step
              losses.csv      step, train loss, valid loss, lr, tokens, seconds (see 'plot')
            data:
              --train-data F      token file to train on (required)
              --valid-data F      token file for the validation loss (recommended)
            model (a new model; the vocabulary size comes from the token file):
              --dim N (128) --layers N (6) --heads N (8) --kv-heads N (= heads)
              --hidden N (llama2.c's rule: 2/3 of 4*dim rounded up to a multiple of 32)
              --seq-len N (256)   --unshared (separate classifier instead of the embedding)
              --init model.bin    fine-tune: start from this llama2.c checkpoint (v0, v1, v2)
                                  instead of a new model (--seq-len may shorten the windows)
            optimisation:
              --steps N (2000) --batch N windows per micro-batch (16) --accumulation N (1)
              --lr F (1e-3) --min-lr F (lr/10) --warmup N (100) --weight-decay F (0.1)
              --beta1 F (0.9) --beta2 F (0.95) --grad-clip F (1.0) --seed N (1337)
              --dropout F (0): zero this fraction of the embedding, attention weights and
                                  residual-branch outputs while training (never at validation,
                                  eval or in exported models)
              --shards N (number of cores): passes a step's windows are dealt to
              --threads N (number of cores)
              --kernels portable|vector (vector when java runs with --add-modules jdk.incubator.vector)
            bookkeeping:
              --log-every N (10) --eval-every N (200) --eval-windows N (200)
              --checkpoint-every N (200) --resume (continue from DIR/checkpoint.bin bit for bit: the
              same command plus --resume; model and optimisation flags must equal the checkpoint's,
              only --steps may change, which re-times the cosine decay from there on)
              --patience N (0 = off): stop early after N validations without a new best
            """;

    private static final Set<String> FLAGS = Set.of("--train-data", "--valid-data", "--out-dir", "--dim", "--layers",
            "--heads", "--kv-heads", "--hidden", "--seq-len", "--init", "--steps", "--batch", "--accumulation", "--lr",
            "--min-lr", "--warmup", "--weight-decay", "--dropout", "--patience", "--beta1", "--beta2", "--grad-clip", "--seed", "--shards",
            "--threads", "--kernels", "--log-every", "--eval-every", "--eval-windows", "--checkpoint-every");
    private static final Set<String> SWITCHES = Set.of("--unshared", "--resume");

    /** llama2.c's default hidden size: 2/3 of 4·dim, rounded up to a multiple of 32. */
    static int defaultHidden(int dim) {
        int hidden = 2 * (4 * dim) / 3;
        return (hidden + 31) / 32 * 32;
    }

    /** What a resumed run may change: where the data and files are, the length, and the bookkeeping. */
    private static final Set<String> RESUMABLE = Set.of("--train-data", "--valid-data", "--out-dir", "--resume",
            "--steps", "--threads", "--kernels", "--log-every", "--eval-every", "--eval-windows", "--checkpoint-every", "--patience");
    /** What a fine-tune takes from its starting model. */
    private static final Set<String> SHAPE = Set.of("--dim", "--layers", "--heads", "--kv-heads", "--hidden", "--unshared");

    static void run(String[] argv) throws IOException {
        Args a = new Args("train", argv, FLAGS, SWITCHES);
        KernelChoice.apply(a, "train");
        Path outDir = a.path("--out-dir");
        TokenFile train = TokenFile.read(a.file("--train-data"));
        TokenFile valid = a.has("--valid-data") ? TokenFile.read(a.file("--valid-data")) : null;
        int cores = Runtime.getRuntime().availableProcessors();
        int threads = MemoryEstimate.threads(a.integer("--threads", cores));
        int logEvery = Math.max(1, a.integer("--log-every", 10));
        int evalEvery = Math.max(1, a.integer("--eval-every", 200));
        int evalWindows = Math.max(1, a.integer("--eval-windows", 200));
        int checkpointEvery = Math.max(1, a.integer("--checkpoint-every", 200));
        int patience = Math.max(0, a.integer("--patience", 0));
        if (valid != null && valid.tokenizerId() != train.tokenizerId()) {
            throw new BadInputException("train: --valid-data and --train-data were prepared with different tokenizers");
        }
        SafeFiles.requireWritableDirectory(outDir);
        Path checkpoint = outDir.resolve("checkpoint.bin");

        Trainer trainer;
        Best best = Best.NONE;
        if (a.has("--resume")) {
            SafeFiles.requireRegularFile(checkpoint);
            TrainingCheckpoint.State state = TrainingCheckpoint.load(checkpoint);
            requireSameAsCheckpoint(a, state, checkpoint);
            if (state.tokenizerId() != train.tokenizerId()) {
                throw new BadInputException("train: " + a.required("--train-data") + " was prepared with another tokenizer"
                        + " than the run in " + checkpoint);
            }
            if (a.has("--steps")) {
                state = state.with(state.hp().withSteps(a.integer("--steps", 0)));
            }
            checkInputs(state.config(), train, valid);
            MemoryEstimate.require("train", new ParameterLayout(state.config()), state.config().seqLen(),
                    state.hp().shards(), true, state.hp().dropout() > 0);
            trainer = state.resume(train.tokens(), threads);
            best = bestSoFar(outDir.resolve("best.txt"));
            System.out.printf("resuming %s at step %d%n", checkpoint, trainer.step());
        } else {
            if (a.has("--init")) {
                refuse(a, "--init", SHAPE::contains, "the model's shape comes from the --init file");
            }
            float lr = a.number("--lr", 1e-3f);
            Hyperparameters hp = new Hyperparameters(a.integer("--steps", 2000), a.integer("--batch", 16),
                    a.integer("--accumulation", 1), lr, a.number("--min-lr", lr / 10), a.integer("--warmup", 100),
                    a.number("--weight-decay", 0.1f), a.number("--beta1", 0.9f), a.number("--beta2", 0.95f),
                    a.number("--grad-clip", 1.0f), a.integer("--shards", cores), a.longValue("--seed", 1337),
                    a.number("--dropout", 0f)).validate();
            Config config = a.has("--init") ? fineTuneConfig(a) : newConfig(a, train.vocabSize());
            ParameterLayout layout = new ParameterLayout(config);
            MemoryEstimate.require("train", layout, config.seqLen(), hp.shards(), true, hp.dropout() > 0);
            checkInputs(config, train, valid);
            Model model = a.has("--init") ? fineTuneStart(a, layout)
                    : new Model(layout, layout.initialise(new Rng(hp.seed() ^ 0x5DEECE66DL)));
            trainer = new Trainer(model, hp, train.tokens(), threads);
        }
        loop(trainer, valid, train.tokenizerId(), outDir, best, logEvery, evalEvery, evalWindows, checkpointEvery, patience);
        trainer.close();
    }

    /**
     * A resumed run continues bit for bit, so a flag that would change its arithmetic must say
     * what the checkpoint says; only --steps and the bookkeeping may change.
     */
    private static void requireSameAsCheckpoint(Args a, TrainingCheckpoint.State state, Path checkpoint) {
        Config c = state.config();
        Hyperparameters h = state.hp();
        java.util.Map<String, Object> fixed = new java.util.LinkedHashMap<>();
        fixed.put("--dim", c.dim());
        fixed.put("--hidden", c.hiddenDim());
        fixed.put("--layers", c.nLayers());
        fixed.put("--heads", c.nHeads());
        fixed.put("--kv-heads", c.nKvHeads());
        fixed.put("--seq-len", c.seqLen());
        fixed.put("--batch", h.batchSize());
        fixed.put("--accumulation", h.accumulation());
        fixed.put("--lr", h.learningRate());
        fixed.put("--min-lr", h.minLearningRate());
        fixed.put("--warmup", h.warmupSteps());
        fixed.put("--weight-decay", h.weightDecay());
        fixed.put("--beta1", h.beta1());
        fixed.put("--beta2", h.beta2());
        fixed.put("--grad-clip", h.gradClip());
        fixed.put("--shards", h.shards());
        fixed.put("--seed", h.seed());
        fixed.put("--dropout", h.dropout());
        List<String> differ = new java.util.ArrayList<>();
        for (String flag : FLAGS.stream().sorted().toList()) {
            if (!a.has(flag) || RESUMABLE.contains(flag)) {
                continue;
            }
            Object kept = fixed.get(flag);
            Object given = kept instanceof Integer ? (Object) a.integer(flag, 0) : kept instanceof Long ? (Object) a.longValue(flag, 0)
                    : kept instanceof Float ? (Object) a.number(flag, 0) : a.string(flag, "");
            if (!given.equals(kept)) {
                differ.add(flag + " " + given + (kept == null ? "" : " (the checkpoint's is " + kept + ")"));
            }
        }
        if (a.has("--unshared") && c.sharedClassifier()) {
            differ.add("--unshared (the checkpoint's classifier is shared)");
        }
        if (!differ.isEmpty()) {
            throw new BadInputException("train: --resume continues " + checkpoint + " bit for bit, so it keeps its settings:"
                    + " " + String.join(", ", differ) + "; drop these flags or start in a new --out-dir");
        }
    }

    private static void refuse(Args a, String mode, java.util.function.Predicate<String> conflicts, String why) {
        List<String> given = FLAGS.stream().filter(a::has).filter(conflicts).sorted().toList();
        List<String> switches = SWITCHES.stream().filter(a::has).filter(conflicts).sorted().toList();
        List<String> all = new java.util.ArrayList<>(given);
        all.addAll(switches);
        if (!all.isEmpty()) {
            throw new BadInputException("train: " + mode + " with " + String.join(", ", all) + ": " + why);
        }
    }

    /** The lowest validation loss so far and its step, as best.txt records them. */
    record Best(int step, double loss) {
        static final Best NONE = new Best(0, Double.MAX_VALUE);
    }

    private static Best bestSoFar(Path bestInfo) {
        if (!Files.isRegularFile(bestInfo)) {
            return Best.NONE;
        }
        String text = new String(SafeFiles.readAllBytes(bestInfo), StandardCharsets.UTF_8).strip();
        try {
            String[] fields = text.split("\\s+");
            return new Best(Integer.parseInt(fields[0]), Double.parseDouble(fields[1]));
        } catch (RuntimeException e) { // written atomically since; an older trainer could leave it empty
            System.err.println("warning: " + bestInfo + ": damaged (found '" + text + "'); best.bin is replaced at the next evaluation");
            return Best.NONE;
        }
    }

    private static Config newConfig(Args a, int vocab) {
        int dim = a.integer("--dim", 128), heads = a.integer("--heads", 8);
        return new Config(dim, a.integer("--hidden", defaultHidden(dim)), a.integer("--layers", 6), heads,
                a.integer("--kv-heads", heads), vocab, a.integer("--seq-len", 256), !a.has("--unshared")).validate("train");
    }

    /** The --init model's shape, with --seq-len if given; the file's header only, the weights come later. */
    private static Config fineTuneConfig(Args a) {
        Path file = a.file("--init");
        Config c = WeightsBridge.readCheckpoint(file).config();
        return new Config(c.dim(), c.hiddenDim(), c.nLayers(), c.nHeads(), c.nKvHeads(), c.vocabSize(),
                a.integer("--seq-len", c.seqLen()), c.sharedClassifier()).validate(file.toString());
    }

    private static Model fineTuneStart(Args a, ParameterLayout layout) {
        Checkpoint start = WeightsBridge.readCheckpoint(a.file("--init"));
        return new Model(layout, WeightsBridge.fromWeights(layout, start.weights()));
    }

    /** Everything the run will read, checked before step 1 so that no step is lost to it. */
    private static void checkInputs(Config config, TokenFile train, TokenFile valid) {
        for (TokenFile f : valid == null ? new TokenFile[] {train} : new TokenFile[] {train, valid}) {
            if (f.vocabSize() != config.vocabSize()) {
                throw new BadInputException("train: the token file was made with a vocabulary of " + f.vocabSize()
                        + " but the model's is " + config.vocabSize() + " (prepare it with the model's tokenizer)");
            }
        }
        if (train.tokens().length < config.seqLen() + 2) {
            throw new BadInputException("train: --train-data holds " + train.tokens().length + " tokens, fewer than seq_len + 2 = "
                    + (config.seqLen() + 2));
        }
        if (valid != null && valid.tokens().length < config.seqLen() + 1) {
            throw new BadInputException("train: --valid-data holds " + valid.tokens().length + " tokens, fewer than the"
                    + " seq_len + 1 = " + (config.seqLen() + 1) + " of one validation window");
        }
    }

    private static void loop(Trainer t, TokenFile valid, long tokenizerId, Path outDir, Best bestSoFar, int logEvery,
                             int evalEvery, int evalWindows, int checkpointEvery, int patience) throws IOException {
        Hyperparameters hp = t.hp;
        ParameterLayout layout = t.model.layout;
        Config c = layout.config;
        System.out.printf(Locale.ROOT, "model: dim %d, hidden %d, layers %d, heads %d, kv heads %d, vocab %d, seq_len %d,"
                        + " %s classifier, %,d parameters%n", c.dim(), c.hiddenDim(), c.nLayers(), c.nHeads(), c.nKvHeads(),
                c.vocabSize(), c.seqLen(), c.sharedClassifier() ? "shared" : "separate", c.parameterCount());
        System.out.printf(Locale.ROOT, "training: %d steps of %d windows x %d tokens, lr %.2e -> %.2e, warmup %d, "
                        + "%d shards, %s kernels%s%n", hp.steps(), hp.windowsPerStep(), c.seqLen(), hp.learningRate(),
                hp.minLearningRate(), hp.warmupSteps(), hp.shards(),
                Kernels.active().name(), KernelChoice.vectorAvailable() ? "" : " (java --add-modules jdk.incubator.vector enables the vector kernels)");
        if (hp.dropout() > 0) {
            System.out.printf(Locale.ROOT, "dropout %.2f while training (none at validation)%n", hp.dropout());
        }
        Path bestInfo = outDir.resolve("best.txt");
        double best = bestSoFar.loss();
        int bestStep = bestSoFar == Best.NONE ? t.step() : bestSoFar.step();
        LossLog log = LossLog.open(outDir.resolve(LossLog.FILE), t.step());
        long started = System.nanoTime();
        int firstStep = t.step();
        long tokensAtStart = t.tokensSeen();
        double lossSum = 0;
        int lossSteps = 0;
        while (t.step() < hp.steps()) {
            float lr = hp.learningRate(t.step());
            double loss = t.trainStep();
            lossSum += loss;
            lossSteps++;
            int step = t.step();
            if (!Double.isFinite(loss)) {
                throw new Trainer.Diverged(step, "the training loss is " + loss);
            }
            boolean last = step == hp.steps();
            double seconds = (System.nanoTime() - started) / 1e9;
            boolean logged = step % logEvery == 0 || last || step == firstStep + 1;
            double validLoss = Double.NaN;
            boolean stop = false;
            if (logged) {
                double tokensPerSecond = (t.tokensSeen() - tokensAtStart) / seconds;
                double eta = seconds / (step - firstStep) * (hp.steps() - step);
                System.out.printf(Locale.ROOT, "step %d/%d | loss %.4f | lr %.2e | %.0f tok/s | elapsed %s | ETA %s%n",
                        step, hp.steps(), loss, lr, tokensPerSecond, duration(seconds), duration(eta));
            }
            if (valid != null && (step % evalEvery == 0 || last)) {
                validLoss = t.validationLoss(valid.tokens(), evalWindows);
                if (!Double.isFinite(validLoss)) {
                    throw new Trainer.Diverged(step, "the validation loss is " + validLoss);
                }
                String mark = "";
                if (validLoss < best) {
                    best = validLoss;
                    bestStep = step;
                    WeightsBridge.export(layout, t.model.params, 0, outDir.resolve("best.bin"));
                    byte[] line = (step + " " + validLoss + "\n").getBytes(StandardCharsets.UTF_8);
                    SafeFiles.write(bestInfo, out -> out.write(line));
                    mark = " (best, saved best.bin)";
                }
                System.out.printf(Locale.ROOT, "step %d | valid loss %.4f%s%n", step, validLoss, mark);
                if (patience > 0 && step - bestStep >= (long) patience * evalEvery) {
                    System.out.printf(Locale.ROOT, "step %d | stopping early: no better validation loss in %d validations"
                            + " (best %.4f at step %d)%n", step, patience, best, bestStep);
                    stop = true;
                }
            }
            if (logged || !Double.isNaN(validLoss)) {
                log.append(step, lossSum / lossSteps, validLoss, lr, t.tokensSeen(),
                        t.previousSeconds + (System.nanoTime() - started) / 1e9);
                lossSum = 0;
                lossSteps = 0;
            }
            if (step % checkpointEvery == 0 || last || stop) {
                double total = t.previousSeconds + (System.nanoTime() - started) / 1e9;
                TrainingCheckpoint.save(t, total, tokenizerId, outDir.resolve("checkpoint.bin"));
                WeightsBridge.export(layout, t.model.params, 0, outDir.resolve("model.bin"));
                System.out.printf(Locale.ROOT, "step %d | saved checkpoint.bin and model.bin (%d tokens seen, %s of training)%n",
                        step, t.tokensSeen(), duration(total));
            }
            System.out.flush();
            if (stop) {
                break;
            }
        }
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
                : String.format("%dm%02ds", s / 60, s % 60);
    }
}
