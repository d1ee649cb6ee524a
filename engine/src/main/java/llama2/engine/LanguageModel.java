package llama2.engine;

import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * The engine for an app, in one object: a llama2.c model (any file version) and its tokenizer,
 * read from bytes, that tells stories or chats token by token.
 *
 * <pre>{@code
 * LanguageModel model = LanguageModel.load(modelBytes, tokenizerBytes);
 * String story = model.generate("Once upon a time", Settings.defaults().withSeed(42), System.out::print);
 * }</pre>
 *
 * <p>{@link #generate} and {@link Conversation#reply} hand each piece of text to a callback as soon
 * as it is decoded (UTF-8-correct, as run.c prints it) and return the whole text; for full control
 * (stop at any time, the token ids) {@link #generation} gives run.c's loop one token per call.
 *
 * <p>The weights are read once and never written: one model can serve several generations at a
 * time, each with its own state. This class reads no files and starts no threads, so it runs
 * in a browser too; on the JVM, {@code llama2.io.ModelFiles} loads a model from paths. A bad file
 * is refused with a {@link BadInputException} whose one-line message names the file and the field.
 */
public final class LanguageModel {
    private final Checkpoint checkpoint;
    private final Tokenizer tokenizer;

    private LanguageModel(Checkpoint checkpoint, Tokenizer tokenizer) {
        this.checkpoint = checkpoint;
        this.tokenizer = tokenizer;
    }

    /** Reads a checkpoint (version 0, 1 or 2) and a {@code tokenizer.bin}. */
    public static LanguageModel load(byte[] model, byte[] tokenizer) {
        return load(ByteBuffer.wrap(model), "model", ByteBuffer.wrap(tokenizer), "tokenizer");
    }

    /** Reads a checkpoint and a tokenizer, naming them in error messages (file names, say). */
    public static LanguageModel load(ByteBuffer model, String modelName, ByteBuffer tokenizer, String tokenizerName) {
        Checkpoint checkpoint = Checkpoint.read(model, modelName);
        return new LanguageModel(checkpoint, Tokenizer.read(tokenizer, checkpoint.config().vocabSize(), tokenizerName));
    }

    /** The model's shape: dimensions, layers, heads, vocabulary, context length. */
    public Config config() {
        return checkpoint.config();
    }

    /** The checkpoint's file version: 0, 1 (float32) or 2 (Q8_0). */
    public int version() {
        return checkpoint.version();
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * Tells a story that starts with {@code prompt} (which may be empty), as run.c's generate
     * mode does: the prompt's text, then the sampled text, each piece handed to {@code onText}
     * as it comes. Returns everything {@code onText} received.
     */
    public String generate(String prompt, Settings settings, Consumer<String> onText) {
        Generation generation = generation(prompt, settings);
        StringBuilder all = new StringBuilder();
        Step step;
        do {
            step = generation.step();
            emit(step.text(), onText, all);
        } while (!step.isLast());
        return all.toString();
    }

    /** run.c's generate loop, one token per {@link Generation#step()}: stop whenever you like. */
    public Generation generation(String prompt, Settings settings) {
        return new Generation(transformer(), tokenizer, sampler(settings), prompt, settings.steps());
    }

    /** A chat with the Llama 2 chat template (for chat-tuned models); {@code systemPrompt} may be empty. */
    public Conversation chat(String systemPrompt, Settings settings) {
        return new Conversation(new Chat(transformer(), tokenizer, sampler(settings), settings.steps(), systemPrompt));
    }

    private Transformer transformer() {
        return new Transformer(checkpoint.weights());
    }

    private Sampler sampler(Settings settings) {
        return new Sampler(config().vocabSize(), settings.temperature(), settings.topp(), settings.effectiveSeed());
    }

    static void emit(String text, Consumer<String> onText, StringBuilder all) {
        if (!text.isEmpty()) {
            onText.accept(text);
            all.append(text);
        }
    }
}
