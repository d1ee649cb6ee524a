package llama2.engine;

import java.util.function.Consumer;

/**
 * A chat with a {@link LanguageModel}, turn by turn: each {@link #reply} feeds the user's message
 * and returns the assistant's answer, handing each piece to a callback as it comes. The
 * conversation keeps its context (up to {@code steps} positions); {@link #isOver()} says when it
 * is used up. For one token per call, use {@link Chat} directly.
 */
public final class Conversation {
    private final Chat chat;
    private boolean over;

    Conversation(Chat chat) {
        this.chat = chat;
    }

    /**
     * The assistant's answer to {@code message}: its text goes to {@code onText} piece by piece,
     * and the whole of it is returned (empty if the context ran out first).
     */
    public String reply(String message, Consumer<String> onText) {
        if (isOver()) {
            throw new IllegalStateException("the conversation has used up its context");
        }
        chat.user(message);
        StringBuilder all = new StringBuilder();
        Step step;
        do {
            step = chat.step();
            LanguageModel.emit(step.text(), onText, all);
        } while (!step.isLast());
        over = step.end() == Step.End.CONTEXT;
        return all.toString();
    }

    /** True once the context is used up: no more turns. */
    public boolean isOver() {
        return over;
    }
}
