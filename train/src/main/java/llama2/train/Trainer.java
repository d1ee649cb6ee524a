package llama2.train;

/**
 * One training run's state and its optimizer step.
 *
 * <p>A step draws {@code batch × accumulation} random windows of {@code seq_len + 1} tokens from
 * the training tokens, deals them round-robin to {@code shards} {@link Pass}es that run forward and
 * backward (each summing gradients into its own array), adds their gradients in shard order, clips
 * their global norm, and applies AdamW. Every source of variation (the windows, the dropout masks,
 * the order of every sum) depends only on the seed, the step and the number of shards, so a run
 * resumed from a checkpoint continues bit for bit like an uninterrupted one, and the shards may
 * run anywhere: on threads ({@link Shards}), one after another ({@link ShardRunner#serial}), or in
 * several browser workers that each compute some shards' gradients and hand them to the others
 * ({@link #beginStep}, {@link #shardGradient}, {@link #receiveGradient}, {@link #finishStep}).
 */
public final class Trainer implements AutoCloseable {
    public final Model model;
    public final Hyperparameters hp;
    final AdamW optimizer;
    final Rng rng;
    private final int[] data;
    /** One per shard, made when the shard is first computed here. */
    private final Pass[] passes;
    /** Gradients of shards computed elsewhere (another worker), by shard; null for those computed here. */
    private final float[][] received;
    private final ShardRunner shards;
    /** The current step's window starts, drawn by {@link #beginStep}. */
    private int[] starts;
    /** Optimizer steps done so far. */
    int step;
    long tokensSeen;
    /** Seconds spent training before this process (from the checkpoint), for the model card. */
    double previousSeconds;

    /** A trainer whose shards run on up to {@code threads} JVM threads. */
    public Trainer(Model model, Hyperparameters hp, int[] trainingTokens, int threads) {
        this(model, hp, trainingTokens, new Shards(hp.shards(), threads));
    }

    public Trainer(Model model, Hyperparameters hp, int[] trainingTokens, ShardRunner shards) {
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
        this.received = new float[hp.shards()][];
        this.shards = shards;
    }

    public int step() {
        return step;
    }

    public long tokensSeen() {
        return tokensSeen;
    }

    /** Seconds of training before this trainer was made (from its checkpoint). */
    public double previousSeconds() {
        return previousSeconds;
    }

    /** Does one optimizer step and returns the mean training loss (nats per token) of its windows. */
    public double trainStep() {
        beginStep();
        return finishStep(shards.run(this::shardGradient));
    }

    /** The first part of a step: draws its windows. */
    public void beginStep() {
        int n = model.layout.seqLen;
        int windows = hp.windowsPerStep();
        starts = new int[windows];
        for (int i = 0; i < windows; i++) {
            starts[i] = rng.nextInt(data.length - n - 1);
        }
    }

    /**
     * Forward and backward over shard {@code w}'s windows of this step (every shards-th one,
     * from the w-th): fills its gradient and returns the sum of its windows' losses.
     */
    public double shardGradient(int w) {
        int n = model.layout.seqLen;
        int windows = starts.length;
        float scale = 1.0f / ((float) n * windows);
        Pass pass = pass(w);
        pass.clearGradients();
        received[w] = null;
        double sum = 0;
        for (int i = w; i < windows; i += passes.length) {
            sum += pass.forwardBackward(data, starts[i], n, scale, Dropout.windowSeed(hp.seed(), step, i));
        }
        return sum;
    }

    /** Shard {@code w}'s gradient of this step, as {@link #shardGradient} left it (to hand to other workers). */
    public float[] gradient(int w) {
        return received[w] != null ? received[w] : pass(w).grad;
    }

    /** Shard {@code w}'s gradient of this step, computed elsewhere. */
    public void receiveGradient(int w, float[] gradient) {
        if (gradient.length != model.layout.size) {
            throw new IllegalArgumentException("shard " + w + ": a gradient of " + gradient.length + " values, expected "
                    + model.layout.size);
        }
        received[w] = gradient;
    }

    /**
     * The last part of a step, once every shard's gradient is here: sums them in shard order,
     * clips, updates the weights; returns the mean loss per token from the shards' loss sums.
     */
    public double finishStep(double[] shardLosses) {
        int n = model.layout.seqLen;
        int windows = starts.length;
        float[] grad = sumGradients();
        clip(grad);
        optimizer.update(model.params, grad, hp.learningRate(step));
        model.refreshTransposed();
        step++;
        tokensSeen += (long) windows * n;
        starts = null;
        double total = 0;
        for (double l : shardLosses) {
            total += l;
        }
        return total / ((double) n * windows);
    }

    private Pass pass(int w) {
        if (passes[w] == null) {
            passes[w] = new Pass(model, hp.dropout());
        }
        return passes[w];
    }

    /** Adds every shard's gradient into shard 0's, in shard order, in parallel over slices. */
    private float[] sumGradients() {
        float[] sum = gradient(0);
        int size = sum.length, parts = passes.length;
        shards.run(part -> {
            int from = (int) ((long) size * part / parts), to = (int) ((long) size * (part + 1) / parts);
            for (int w = 1; w < passes.length; w++) {
                float[] g = gradient(w);
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
            throw new Diverged(step + 1, "the gradient is not finite");
        }
        if (norm > hp.gradClip()) {
            float factor = (float) (hp.gradClip() / norm);
            for (int i = 0; i < grad.length; i++) {
                grad[i] *= factor;
            }
        }
    }

    /** The sentence for a run whose loss or gradient stopped being finite, in the command line's words. */
    static String diverged(int step, String what) {
        return "train: step " + step + ": " + what + ": the run diverged (try a lower --lr); the files in --out-dir"
                + " keep the last good save";
    }

    /** A run whose loss or gradient stopped being finite: which step, and what; each launcher words the advice. */
    public static final class Diverged extends llama2.engine.BadInputException {
        public final int step;
        public final String what;

        public Diverged(int step, String what) {
            super(diverged(step, what));
            this.step = step;
            this.what = what;
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
                sum += pass(w).loss(tokens, i * n, n);
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
