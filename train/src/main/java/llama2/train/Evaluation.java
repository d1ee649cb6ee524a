package llama2.train;

import java.nio.charset.StandardCharsets;
import java.util.List;

import llama2.engine.Tokenizer;

/**
 * How well a model predicts a set of stories, in units comparable across vocabularies.
 *
 * <p>Each story is encoded with BOS and scored on every token after it. A story longer than the
 * context is cut into consecutive windows of {@code seq_len} tokens, each fed after a fresh BOS
 * (so no window sees more than the model was trained on). Bits per byte divides the total
 * cross-entropy by ln 2 and by the UTF-8 length of the stories: a model with a larger vocabulary
 * predicts fewer, longer tokens, and only per byte do the two compare fairly.
 */
public record Evaluation(int stories, long tokens, long bytes, double totalNats) {

    public double lossPerToken() {
        return totalNats / tokens;
    }

    public double perplexity() {
        return Math.exp(lossPerToken());
    }

    public double bitsPerByte() {
        return totalNats / Math.log(2) / bytes;
    }

    /** Scores the stories on all cores; the sums run in story order, so the result is reproducible. */
    public static Evaluation of(Model model, Tokenizer tokenizer, List<String> stories, int threads) {
        int seqLen = model.layout.seqLen;
        int count = Math.max(1, threads);
        double[] nats = new double[stories.size()];
        long[] counts = new long[stories.size()];
        try (Shards shards = new Shards(count, count)) {
            shards.run(w -> {
                Pass pass = new Pass(model);
                int[] window = new int[seqLen + 1];
                for (int s = w; s < stories.size(); s += count) {
                    int[] ids = tokenizer.encode(stories.get(s), true, false);
                    int content = ids.length - 1;
                    for (int from = 0; from < content; from += seqLen) {
                        int n = Math.min(seqLen, content - from);
                        window[0] = Tokenizer.BOS;
                        System.arraycopy(ids, 1 + from, window, 1, n);
                        nats[s] += pass.loss(window, 0, n);
                        counts[s] += n;
                    }
                }
                return 0;
            });
        }
        double total = 0;
        long tokens = 0, bytes = 0;
        for (int s = 0; s < stories.size(); s++) {
            total += nats[s];
            tokens += counts[s];
            bytes += stories.get(s).getBytes(StandardCharsets.UTF_8).length;
        }
        return new Evaluation(stories.size(), tokens, bytes, total);
    }
}
