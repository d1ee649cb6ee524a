package llama2.train;

/**
 * One training run's state and its optimizer step.
 *
 * <p>A step draws {@code batch × accumulation} random windows of {@code seq_len + 1} tokens from
 * the training tokens, deals them round-robin to {@code shards} {@link Pass}es that run forward and
 * backward in parallel (each summing gradients into its own array), adds their gradients
 * in shard order, clips their global norm, and applies AdamW. Every source of variation (the
 * windows, the dropout masks, the order of every sum) depends only on the seed and the step, so a run resumed from
 * a checkpoint continues bit for bit like an uninterrupted one.
 */
public final class Trainer implements AutoCloseable {
    public final Model model;
    public final Hyperparameters hp;
    final AdamW optimizer;
    final Rng rng;
    private final int[] data;
    private final Pass[] passes;
    private final Shards shards;
    /** Optimizer steps done so far. */
    int step;
    long tokensSeen;
    /** Seconds spent training before this process (from the checkpoint), for the model card. */
    double previousSeconds;

    public Trainer(Model model, Hyperparameters hp, int[] trainingTokens, int threads) {
        this.model = model;
        this.hp = hp.validate();
        this.optimizer = new AdamW(model.layout, hp.beta1(), hp.beta2(), hp.weightDecay());
        this.rng = new Rng(hp.seed());
        if (trainingTokens.length < model.layout.seqLen + 2) {
            throw new llama2.engine.BadInputException("the training data holds " + trainingTokens.length
                    + " tokens, fewer than seq_len + 2 = " + (model.layout.seqLen + 2));
        }
        this.data = trainingTokens;
        this.passes = new Pass[hp.shards()];
        for (int i = 0; i < passes.length; i++) {
            passes[i] = new Pass(model, hp.dropout());
        }
        this.shards = new Shards(hp.shards(), threads);
    }

    public int step() {
        return step;
    }

    public long tokensSeen() {
        return tokensSeen;
    }

    /** Does one optimizer step and returns the mean training loss (nats per token) of its windows. */
    public double trainStep() {
        int n = model.layout.seqLen;
        int windows = hp.windowsPerStep();
        int[] starts = new int[windows];
        for (int i = 0; i < windows; i++) {
            starts[i] = rng.nextInt(data.length - n - 1);
        }
        float scale = 1.0f / ((float) n * windows);
        double[] losses = shards.run(w -> {
            Pass pass = passes[w];
            pass.clearGradients();
            double sum = 0;
            for (int i = w; i < windows; i += passes.length) {
                sum += pass.forwardBackward(data, starts[i], n, scale, Dropout.windowSeed(hp.seed(), step, i));
            }
            return sum;
        });
        float[] grad = sumGradients();
        clip(grad);
        optimizer.update(model.params, grad, hp.learningRate(step));
        model.refreshTransposed();
        step++;
        tokensSeen += (long) windows * n;
        double total = 0;
        for (double l : losses) {
            total += l;
        }
        return total / ((double) n * windows);
    }

    /** Adds every shard's gradient into shard 0's, in shard order, in parallel over slices. */
    private float[] sumGradients() {
        float[] sum = passes[0].grad;
        int size = sum.length, parts = passes.length;
        shards.run(part -> {
            int from = (int) ((long) size * part / parts), to = (int) ((long) size * (part + 1) / parts);
            for (int w = 1; w < passes.length; w++) {
                float[] g = passes[w].grad;
                for (int i = from; i < to; i++) {
                    sum[i] += g[i];
                }
            }
            return 0.0;
        });
        return sum;
    }

    /** Scales the gradient down so that its global L2 norm is at most {@code gradClip}. */
    private void clip(float[] grad) {
        double squares = 0;
        for (float g : grad) {
            squares += (double) g * g;
        }
        double norm = Math.sqrt(squares);
        if (!Double.isFinite(norm)) { // stop before the weights are touched: the last save stays good
            throw new llama2.engine.BadInputException(TrainCommand.diverged(step + 1, "the gradient is not finite"));
        }
        if (norm > hp.gradClip()) {
            float factor = (float) (hp.gradClip() / norm);
            for (int i = 0; i < grad.length; i++) {
                grad[i] *= factor;
            }
        }
    }

    /**
     * Mean loss per token over consecutive windows of seq_len + 1 tokens (stride seq_len) of
     * {@code tokens}, at most {@code maxWindows} of them: a fixed, cheap validation figure.
     */
    public double validationLoss(int[] tokens, int maxWindows) {
        int n = model.layout.seqLen;
        int windows = Math.min(maxWindows, (tokens.length - 1) / n);
        if (windows <= 0) {
            throw new llama2.engine.BadInputException("the validation data holds " + tokens.length
                    + " tokens, fewer than seq_len + 1 = " + (n + 1));
        }
        double[] sums = shards.run(w -> {
            double sum = 0;
            for (int i = w; i < windows; i += passes.length) {
                sum += passes[w].loss(tokens, i * n, n);
            }
            return sum;
        });
        double total = 0;
        for (double s : sums) {
            total += s;
        }
        return total / ((double) windows * n);
    }

    @Override
    public void close() {
        shards.close();
    }
}
