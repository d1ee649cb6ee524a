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
    private Step.End end;

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

    /**
     * The rule for steps, wherever they come from (the CLI's {@code -n}, the page's field):
     * a whole number, 0 or more. Taken as a double so a page's 1.5 is refused, not rounded.
     */
    public static void checkSteps(double steps) {
        if (!(steps >= 0) || steps != Math.floor(steps)) {
            String found = steps == Math.rint(steps) && !Double.isInfinite(steps)
                    ? Long.toString((long) steps) : Float.toString((float) steps);
            throw new BadInputException("steps must be a whole number, 0 or more (0 means the model's whole context), found "
                    + found);
        }
    }

    /**
     * What run.c does silently, said plainly: "" when the steps reach past the prompt, else a
     * sentence saying that the story ends inside the prompt (run.c cuts it there).
     */
    public String promptNote() {
        int promptTokens = prompt.length - 1;   // without BOS
        if (steps > promptTokens) {
            return "";
        }
        return "The steps (" + steps + ") end " + (steps < promptTokens ? "inside" : "at the end of")
                + " the prompt (" + promptTokens + " tokens), so " + (steps < promptTokens ? "it was cut short and " : "")
                + "nothing new was written; give more steps.";
    }

    /** run.c's rule for {@code -n}: 0, or more than the context, means the whole context. */
    static int positions(int steps, int seqLen) {
        checkSteps(steps);
        return steps == 0 || steps > seqLen ? seqLen : steps;
    }

    /**
     * Runs the model on the current token and moves on to the next: the prompt's own while
     * inside the prompt, then a sampled one. The step that ends the story says so
     * ({@link Step#isLast()}); when the model sampled BOS, that step's text is empty.
     */
    public Step step() {
        if (end != null) {
            throw new IllegalStateException("the story has ended");
        }
        float[] logits = transformer.forward(token, pos);
        int next = pos + 1 < prompt.length ? prompt[pos + 1] : sampler.sample(logits);
        pos++;
        if (next == Tokenizer.BOS) {
            end = Step.End.BOS;
            return new Step(next, pos, "", end);
        }
        String piece = text.append(tokenizer.decode(token, next));
        ids[pos] = next;
        token = next;
        if (pos >= steps) {
            end = Step.End.STEPS;
        }
        return new Step(next, pos, piece, end);
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
        int count = end == Step.End.BOS ? pos : pos + 1;
        int[] out = new int[count];
        System.arraycopy(ids, 0, out, 0, count);
        return out;
    }
}
