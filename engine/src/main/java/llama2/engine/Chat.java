package llama2.engine;

import java.util.Arrays;

/**
 * run.c's {@code chat} loop with the Llama 2 chat template, one token per {@link #step()}.
 *
 * <p>Each user turn is rendered as {@code [INST] {user} [/INST]} (the first one, when there is
 * a system prompt, as {@code [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]}) and encoded
 * with BOS. Its tokens are fed without being shown; then the assistant's sampled tokens are
 * shown until it samples EOS, which ends its turn. As in run.c a token is sampled after every
 * position, prompt or not, so a seed gives the same conversation as run.c.
 *
 * <p>Every step returns what to show; the step that ends the assistant's turn (or the whole
 * conversation, when the context is full) says so ({@link Step#isLast()}).
 *
 * <p>One departure from run.c: after the assistant's EOS is fed back, run.c prints the token
 * sampled from it, which nobody asked for; this class does not.
 */
public final class Chat {
    private final Transformer transformer;
    private final Tokenizer tokenizer;
    private final Sampler sampler;
    private final int steps;
    private final String systemPrompt;
    private final Utf8Stream text = new Utf8Stream();
    private int[] turn = new int[0];
    private int turnIndex;
    private int[] sampled = new int[16];   // the ids sampled during the current turn
    private int sampledCount;
    private boolean userTurn = true;
    private int next;
    private int pos;

    public Chat(Transformer transformer, Tokenizer tokenizer, Sampler sampler, int steps, String systemPrompt) {
        this.steps = Generation.positions(steps, transformer.config().seqLen());
        this.transformer = transformer;
        this.tokenizer = tokenizer;
        this.sampler = sampler;
        this.systemPrompt = systemPrompt == null ? "" : systemPrompt;
    }

    /** True when the assistant has finished its turn and the conversation has room left. */
    private boolean needsUserInput() {
        return userTurn && !isDone();
    }

    /** True once the context ({@code steps} positions) is used up. */
    private boolean isDone() {
        return pos >= steps;
    }

    /** The user's next message; the assistant's answer then comes one {@link #step()} at a time. */
    public void user(String message) {
        if (isDone()) {
            throw new BadInputException("this conversation has used the model's whole context; start a new chat");
        }
        if (!needsUserInput()) {
            throw new IllegalStateException("it is not the user's turn");
        }
        String rendered = pos == 0 && !systemPrompt.isEmpty()
                ? "[INST] <<SYS>>\n" + systemPrompt + "\n<</SYS>>\n\n" + message + " [/INST]"
                : "[INST] " + message + " [/INST]";
        turn = tokenizer.encode(rendered, true, false);
        turnIndex = 0;
        sampledCount = 0;
        userTurn = false;
    }

    /**
     * Feeds one token (the user's turn first, then the assistant's own samples) and returns
     * the sampled token with the text to show: empty inside the user's turn, a newline when
     * the assistant samples EOS. The step that feeds that EOS back ends the turn
     * ({@link Step.End#TURN}); a step that fills the context ends the conversation
     * ({@link Step.End#CONTEXT}).
     */
    public Step step() {
        if (userTurn || isDone()) {
            throw new IllegalStateException(isDone() ? "the conversation is out of context" : "waiting for the user");
        }
        boolean fromPrompt = turnIndex < turn.length;
        int token = fromPrompt ? turn[turnIndex] : next;
        float[] logits = transformer.forward(token, pos); // first: if it throws, the step can be taken again
        if (fromPrompt) {
            turnIndex++;
        }
        boolean feedingEos = token == Tokenizer.EOS;
        if (feedingEos) {
            userTurn = true;
        }
        next = sampler.sample(logits);
        pos++;
        remember(next);
        String shown = "";
        if (turnIndex >= turn.length && !feedingEos) {
            shown = next == Tokenizer.EOS ? "\n" : text.append(tokenizer.decode(token, next));
        }
        Step.End end = isDone() ? Step.End.CONTEXT : feedingEos ? Step.End.TURN : null;
        return new Step(next, pos, shown, end);
    }

    /** The ids sampled during the current turn, one per step (run.c samples after every position). */
    public int[] ids() {
        return Arrays.copyOf(sampled, sampledCount);
    }

    private void remember(int token) {
        if (sampledCount == sampled.length) {
            sampled = Arrays.copyOf(sampled, sampledCount * 2);
        }
        sampled[sampledCount++] = token;
    }
}
