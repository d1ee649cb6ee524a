package llama2.engine;

/**
 * run.c's {@code generate} loop, one token per {@link #step()}, so that a caller can print
 * tokens as they come, or (in a browser) yield between them and stop at any time.
 *
 * <p>The prompt is encoded with BOS; its tokens are fed one per position, then sampled tokens,
 * until {@code steps} positions are done or the model samples BOS (the end of a story).
 */
public final class Generation {
    private final Transformer transformer;
    private final Tokenizer tokenizer;
    private final Sampler sampler;
    private final int[] prompt;
    private final int steps;
    private final int[] ids;
    private final Utf8Stream text = new Utf8Stream();
    private int token;
    private int pos;
    private boolean sampledBos;

    public Generation(Transformer transformer, Tokenizer tokenizer, Sampler sampler, String prompt, int steps) {
        int seqLen = transformer.config().seqLen();
        this.steps = positions(steps, seqLen);
        this.transformer = transformer;
        this.tokenizer = tokenizer;
        this.sampler = sampler;
        this.prompt = tokenizer.encode(prompt, true, false);
        if (this.prompt.length > seqLen) {
            throw new BadInputException("the prompt is " + this.prompt.length
                    + " tokens long, more than the model's context (seq_len) of " + seqLen);
        }
        this.ids = new int[this.steps + 1];
        this.ids[0] = this.prompt[0];
        this.token = this.prompt[0];
    }

    /** run.c's rule for {@code -n}: 0, or more than the context, means the whole context. */
    static int positions(int steps, int seqLen) {
        if (steps < 0) {
            throw new BadInputException("steps must be >= 0 (0 means the model's seq_len " + seqLen + "), found " + steps);
        }
        return steps == 0 || steps > seqLen ? seqLen : steps;
    }

    /** True once {@code steps} positions are done or the model ended the story. */
    public boolean isDone() {
        return sampledBos || pos >= steps;
    }

    /** Why generation ended: {@code "steps"}, {@code "bos"} (the model ended the story), or null. */
    public String stopReason() {
        return sampledBos ? "bos" : pos >= steps ? "steps" : null;
    }

    /**
     * Runs the model on the current token and moves on to the next: the prompt's own while
     * inside the prompt, then a sampled one. Returns null when the model sampled BOS.
     */
    public Step step() {
        if (isDone()) {
            throw new IllegalStateException("generation is over");
        }
        float[] logits = transformer.forward(token, pos);
        int next = pos + 1 < prompt.length ? prompt[pos + 1] : sampler.sample(logits);
        pos++;
        if (next == Tokenizer.BOS) {
            sampledBos = true;
            return null;
        }
        String piece = text.append(tokenizer.decode(token, next));
        ids[pos] = next;
        token = next;
        return new Step(next, pos, piece);
    }

    /** Positions done so far (run.c's {@code pos}). */
    public int position() {
        return pos;
    }

    /** The prompt's tokens, BOS first. */
    public int[] promptTokens() {
        return prompt.clone();
    }

    /**
     * Every token the loop walked through: BOS, the prompt, then each sampled token; what
     * {@code --ids} prints and the golden files list.
     */
    public int[] ids() {
        int count = sampledBos ? pos : pos + 1;
        int[] out = new int[count];
        System.arraycopy(ids, 0, out, 0, count);
        return out;
    }
}
