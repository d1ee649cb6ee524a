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
        STEPS("steps"),
        /** The model sampled BOS: it ended the story. */
        BOS("bos"),
        /** Chat: the assistant ended its turn; the user may answer. */
        TURN("turn"),
        /** Chat: the conversation has used the model's whole context. */
        CONTEXT("context");

        private final String word;

        End(String word) {
            this.word = word;
        }

        /** The name the worker protocol uses (spelled out: the browser build has no locale tables). */
        public String word() {
            return word;
        }
    }

    /** True on the last step of a story or of an assistant's turn; {@link #end()} says why. */
    public boolean isLast() {
        return end != null;
    }
}
