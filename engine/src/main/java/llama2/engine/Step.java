package llama2.engine;

/**
 * What one forward pass produced, for {@link Generation#step()} and {@link Chat#step()} alike:
 * the token that now follows (from the prompt or sampled), the position it will occupy, the
 * text to show (UTF-8-correct, possibly empty: part of a character, a prompt token in chat mode,
 * or the BOS that ends a story) and, on the last step, why it is the last.
 */
public record Step(int token, int position, String text, End end) {

    /** Why a story or an assistant's turn ended. */
    public enum End {
        /** The {@code steps} positions are done (run.c's {@code -n}). */
        STEPS,
        /** The model sampled BOS: it ended the story. */
        BOS,
        /** Chat: the assistant ended its turn; the user may answer. */
        TURN,
        /** Chat: the conversation has used the model's whole context. */
        CONTEXT;

        /** The lower-case name the worker protocol uses: "steps", "bos", "turn", "context". */
        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** True on the last step of a story or of an assistant's turn; {@link #end()} says why. */
    public boolean isLast() {
        return end != null;
    }
}
