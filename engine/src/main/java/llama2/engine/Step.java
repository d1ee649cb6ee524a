package llama2.engine;

/**
 * What one forward pass produced: the token that now follows (from the prompt or sampled),
 * the position it will occupy, and the text it adds, UTF-8-correct, possibly empty (part of a
 * character, or a prompt token in chat mode, which is not shown).
 */
public record Step(int token, int position, String text) {}
