package llama2.train;

import java.util.LinkedHashMap;
import java.util.Map;

import llama2.engine.BadInputException;

/**
 * Everything that decides a training run's arithmetic besides the data and the initial weights.
 * Saved inside every training checkpoint so that a resumed run continues with exactly the same
 * settings.
 *
 * @param batchSize     windows per micro-batch
 * @param accumulation  micro-batches whose gradients are summed before one optimizer step
 * @param shards        how the windows of a step are dealt to worker threads (and so the order in
 *                      which gradients are summed): part of the arithmetic, fixed for a run
 * @param dropout       probability of zeroing an activation while training (embedding, attention
 *                      weights, each residual branch's output); 0 for none
 */
public record Hyperparameters(int steps, int batchSize, int accumulation, float learningRate, float minLearningRate,
                              int warmupSteps, float weightDecay, float beta1, float beta2, float gradClip,
                              int shards, long seed, float dropout) {

    public int windowsPerStep() {
        return batchSize * accumulation;
    }

    /** Linear warmup to the peak, then cosine decay to the minimum at the last step. */
    public float learningRate(int step) {
        if (step < warmupSteps) {
            return learningRate * (step + 1) / warmupSteps;
        }
        if (steps <= warmupSteps) {
            return learningRate;
        }
        double progress = (double) (step - warmupSteps) / Math.max(1, steps - 1 - warmupSteps);
        double cosine = 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
        return (float) (minLearningRate + cosine * (learningRate - minLearningRate));
    }

    /** The same run with a longer (or shorter) schedule: what a resumed run may change. */
    public Hyperparameters withSteps(int newSteps) {
        return new Hyperparameters(newSteps, batchSize, accumulation, learningRate, minLearningRate, warmupSteps,
                weightDecay, beta1, beta2, gradClip, shards, seed, dropout).validate();
    }

    public Hyperparameters validate() {
        positive("steps", steps);
        positive("batch", batchSize);
        positive("accumulation", accumulation);
        positive("shards", shards);
        if (!(learningRate > 0) || !(minLearningRate >= 0) || minLearningRate > learningRate) {
            throw new BadInputException("--lr must be positive and --min-lr between 0 and --lr (got "
                    + learningRate + " and " + minLearningRate + ")");
        }
        if (warmupSteps < 0) {
            throw new BadInputException("--warmup must not be negative, got " + warmupSteps);
        }
        if (!(weightDecay >= 0) || !(gradClip > 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new BadInputException("--weight-decay must be >= 0, --grad-clip > 0 and the betas in [0, 1)");
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new BadInputException("--dropout must be in [0, 1), got " + dropout);
        }
        return this;
    }

    private static void positive(String name, int value) {
        if (value <= 0) {
            throw new BadInputException("--" + name + " must be positive, got " + value);
        }
    }

    /** As {@code key=value} lines, the form stored in a checkpoint. */
    public String serialize() {
        Map<String, String> map = new LinkedHashMap<>();
        map.put("steps", "" + steps);
        map.put("batch", "" + batchSize);
        map.put("accumulation", "" + accumulation);
        map.put("lr", "" + learningRate);
        map.put("min-lr", "" + minLearningRate);
        map.put("warmup", "" + warmupSteps);
        map.put("weight-decay", "" + weightDecay);
        map.put("beta1", "" + beta1);
        map.put("beta2", "" + beta2);
        map.put("grad-clip", "" + gradClip);
        map.put("shards", "" + shards);
        map.put("seed", "" + seed);
        map.put("dropout", "" + dropout);
        StringBuilder out = new StringBuilder();
        map.forEach((k, v) -> out.append(k).append('=').append(v).append('\n'));
        return out.toString();
    }

    public static Hyperparameters deserialize(String text) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                map.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        try {
            return new Hyperparameters(Integer.parseInt(map.get("steps")), Integer.parseInt(map.get("batch")),
                    Integer.parseInt(map.get("accumulation")), Float.parseFloat(map.get("lr")),
                    Float.parseFloat(map.get("min-lr")), Integer.parseInt(map.get("warmup")),
                    Float.parseFloat(map.get("weight-decay")), Float.parseFloat(map.get("beta1")),
                    Float.parseFloat(map.get("beta2")), Float.parseFloat(map.get("grad-clip")),
                    Integer.parseInt(map.get("shards")), Long.parseLong(map.get("seed")),
                    Float.parseFloat(map.getOrDefault("dropout", "0"))); // absent before dropout existed
        } catch (RuntimeException e) {
            throw new BadInputException("training checkpoint: damaged hyperparameter block");
        }
    }
}
