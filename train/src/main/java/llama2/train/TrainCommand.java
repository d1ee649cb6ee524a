package llama2.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.Config;

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
              --shards N (number of cores): workers a step's windows are dealt to
              --threads N (number of cores)
            bookkeeping:
              --log-every N (10) --eval-every N (200) --eval-windows N (200)
              --checkpoint-every N (200) --resume (continue from DIR/checkpoint.bin bit for bit;
              only --steps may be changed, which re-times the cosine decay from there on)
              --patience N (0 = off): stop early after N validations without a new best
            """;

    private static final Set<String> FLAGS = Set.of("--train-data", "--valid-data", "--out-dir", "--dim", "--layers",
            "--heads", "--kv-heads", "--hidden", "--seq-len", "--init", "--steps", "--batch", "--accumulation", "--lr",
            "--min-lr", "--warmup", "--weight-decay", "--dropout", "--patience", "--beta1", "--beta2", "--grad-clip", "--seed", "--shards",
            "--threads", "--log-every", "--eval-every", "--eval-windows", "--checkpoint-every");
    private static final Set<String> SWITCHES = Set.of("--unshared", "--resume");

    /** llama2.c's default hidden size: 2/3 of 4·dim, rounded up to a multiple of 32. */
    static int defaultHidden(int dim) {
        int hidden = 2 * (4 * dim) / 3;
        return (hidden + 31) / 32 * 32;
    }

    static void run(String[] argv) throws IOException {
        Args a = new Args("train", argv, FLAGS, SWITCHES);
        Path outDir = Path.of(a.required("--out-dir"));
        TokenFile train = TokenFile.read(a.file("--train-data"));
        TokenFile valid = a.has("--valid-data") ? TokenFile.read(a.file("--valid-data")) : null;
        int cores = Runtime.getRuntime().availableProcessors();
        int threads = a.integer("--threads", cores);
        int logEvery = Math.max(1, a.integer("--log-every", 10));
        int evalEvery = Math.max(1, a.integer("--eval-every", 200));
        int evalWindows = Math.max(1, a.integer("--eval-windows", 200));
        int checkpointEvery = Math.max(1, a.integer("--checkpoint-every", 200));
        int patience = Math.max(0, a.integer("--patience", 0));
        Files.createDirectories(outDir);
        Path checkpoint = outDir.resolve("checkpoint.bin");

        Trainer trainer;
        if (a.has("--resume")) {
            if (!Files.isRegularFile(checkpoint)) {
                throw new BadInputException("train: --resume but " + checkpoint + " does not exist");
            }
            TrainingCheckpoint.State state = TrainingCheckpoint.load(checkpoint);
            if (a.has("--steps")) {
                Hyperparameters h = state.hp();
                state = new TrainingCheckpoint.State(state.config(), new Hyperparameters(a.integer("--steps", 0),
                        h.batchSize(), h.accumulation(), h.learningRate(), h.minLearningRate(), h.warmupSteps(),
                        h.weightDecay(), h.beta1(), h.beta2(), h.gradClip(), h.shards(), h.seed(), h.dropout()),
                        state.step(), state.updates(), state.tokensSeen(), state.seconds(), state.rngState(),
                        state.params(), state.m(), state.v());
            }
            checkVocabulary(state.config(), train, valid);
            trainer = state.resume(train.tokens(), threads);
            System.out.printf("resuming %s at step %d%n", checkpoint, trainer.step());
        } else {
            float lr = a.number("--lr", 1e-3f);
            Hyperparameters hp = new Hyperparameters(a.integer("--steps", 2000), a.integer("--batch", 16),
                    a.integer("--accumulation", 1), lr, a.number("--min-lr", lr / 10), a.integer("--warmup", 100),
                    a.number("--weight-decay", 0.1f), a.number("--beta1", 0.9f), a.number("--beta2", 0.95f),
                    a.number("--grad-clip", 1.0f), a.integer("--shards", cores), a.longValue("--seed", 1337),
                    a.number("--dropout", 0f)).validate();
            Model model = a.has("--init") ? fineTuneStart(a) : newModel(a, train.vocabSize(), hp.seed());
            checkVocabulary(model.config(), train, valid);
            trainer = new Trainer(model, hp, train.tokens(), threads);
        }
        loop(trainer, valid, outDir, logEvery, evalEvery, evalWindows, checkpointEvery, patience);
        trainer.close();
    }

    private static Model newModel(Args a, int vocab, long seed) {
        int dim = a.integer("--dim", 128), heads = a.integer("--heads", 8);
        Config config = new Config(dim, a.integer("--hidden", defaultHidden(dim)), a.integer("--layers", 6), heads,
                a.integer("--kv-heads", heads), vocab, a.integer("--seq-len", 256), !a.has("--unshared")).validate("train");
        ParameterLayout layout = new ParameterLayout(config);
        return new Model(layout, layout.initialise(new Rng(seed ^ 0x5DEECE66DL)));
    }

    private static Model fineTuneStart(Args a) {
        Path file = a.file("--init");
        Checkpoint start = WeightsBridge.readCheckpoint(file);
        Config c = start.config();
        int seqLen = a.integer("--seq-len", c.seqLen());
        Config config = new Config(c.dim(), c.hiddenDim(), c.nLayers(), c.nHeads(), c.nKvHeads(), c.vocabSize(),
                seqLen, c.sharedClassifier()).validate(file.toString());
        ParameterLayout layout = new ParameterLayout(config);
        return new Model(layout, WeightsBridge.fromWeights(layout, start.weights()));
    }

    private static void checkVocabulary(Config config, TokenFile train, TokenFile valid) {
        for (TokenFile f : valid == null ? new TokenFile[] {train} : new TokenFile[] {train, valid}) {
            if (f.vocabSize() != config.vocabSize()) {
                throw new BadInputException("train: the token file was made with a vocabulary of " + f.vocabSize()
                        + " but the model's is " + config.vocabSize() + " (prepare it with the model's tokenizer)");
            }
        }
    }

    private static void loop(Trainer t, TokenFile valid, Path outDir, int logEvery, int evalEvery, int evalWindows,
                             int checkpointEvery, int patience) throws IOException {
        Hyperparameters hp = t.hp;
        ParameterLayout layout = t.model.layout;
        Config c = layout.config;
        System.out.printf(Locale.ROOT, "model: dim %d, hidden %d, layers %d, heads %d, kv heads %d, vocab %d, seq_len %d,"
                        + " %s classifier, %,d parameters%n", c.dim(), c.hiddenDim(), c.nLayers(), c.nHeads(), c.nKvHeads(),
                c.vocabSize(), c.seqLen(), c.sharedClassifier() ? "shared" : "separate", c.parameterCount());
        System.out.printf(Locale.ROOT, "training: %d steps of %d windows x %d tokens, lr %.2e -> %.2e, warmup %d, "
                        + "%d shards, vector kernels %s%n", hp.steps(), hp.windowsPerStep(), c.seqLen(), hp.learningRate(),
                hp.minLearningRate(), hp.warmupSteps(), hp.shards(), Kernels.VECTOR ? "on" : "off (run java with --add-modules jdk.incubator.vector)");
        if (hp.dropout() > 0) {
            System.out.printf(Locale.ROOT, "dropout %.2f while training (none at validation)%n", hp.dropout());
        }
        Path bestInfo = outDir.resolve("best.txt");
        double best = Double.MAX_VALUE;
        int bestStep = t.step();
        if (Files.isRegularFile(bestInfo)) {
            String[] fields = Files.readString(bestInfo).split("\\s+");
            bestStep = Integer.parseInt(fields[0]);
            best = Double.parseDouble(fields[1]);
        }
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
                String mark = "";
                if (validLoss < best) {
                    best = validLoss;
                    bestStep = step;
                    WeightsBridge.export(layout, t.model.params, 0, outDir.resolve("best.bin"));
                    Files.writeString(bestInfo, step + " " + validLoss + "\n", StandardCharsets.UTF_8);
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
                TrainingCheckpoint.save(t, total, outDir.resolve("checkpoint.bin"));
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
