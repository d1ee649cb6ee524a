package llama2.web;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import llama2.engine.BadInputException;
import llama2.engine.Chat;
import llama2.engine.Checkpoint;
import llama2.engine.CheckpointLoader;
import llama2.engine.Config;
import llama2.engine.Generation;
import llama2.engine.Sampler;
import llama2.engine.Step;
import llama2.engine.Tokenizer;
import llama2.engine.Transformer;

/**
 * What the browser worker holds between messages: one loaded model and the story or
 * conversation being written.
 *
 * <p>Plain Java with no browser types, so the JVM tests exercise exactly what the browser runs.
 * The worker calls {@link #step()} once per scheduled task: producing one token per call is what
 * lets a Stop message (handled between tasks) halt generation within one token.
 */
final class Session {

    private Checkpoint checkpoint;
    private Transformer transformer;
    private Tokenizer tokenizer;
    private long modelBytes;
    private int shards = 1;     // workers the model is split into

    private Generation story;   // the story being written, in story mode
    private Chat chat;          // the conversation, in chat mode
    private Step last;          // the last step taken, null before the first

    private CheckpointLoader arriving;   // the model being read, chunk by chunk
    private boolean quantizedOnLoad;

    /**
     * Begins reading a checkpoint (any version) of {@code size} bytes, which then arrives in chunks
     * ({@link #acceptModelBytes}), each copied straight into the engine's arrays, so the weights
     * exist once and never beside the file. {@code quantize}: an fp32 model becomes Q8_0 on the
     * way in, exactly as {@code llama2.jar quantize} writes it. The previous model is dropped first,
     * so its memory is free for the new one.
     */
    void beginModel(String modelName, long size, boolean quantize) {
        unload();
        arriving = Kernels.loader(size, modelName, quantize);
        modelBytes = size;
    }

    /**
     * The model file's next bytes (all that remain in {@code chunk}, which must be little-endian);
     * the caller may reuse or drop it afterwards.
     */
    void acceptModelBytes(ByteBuffer chunk) {
        if (arriving == null) {
            throw new BadInputException("No model is being read; begin one first.");
        }
        arriving.accept(chunk);
    }

    /** Completes the model begun by {@link #beginModel} with its tokenizer. */
    void finishModel(byte[] tokenizerFile, String tokenizerName) {
        if (arriving == null) {
            throw new BadInputException("No model is being read; begin one first.");
        }
        CheckpointLoader loader = arriving;
        arriving = null;
        Checkpoint loaded = loader.finish();
        Tokenizer vocabulary = Tokenizer.read(littleEndian(tokenizerFile), loaded.config().vocabSize(), tokenizerName);
        checkpoint = loaded;
        tokenizer = vocabulary;
        transformer = new Transformer(loaded.weights());
        quantizedOnLoad = loader.quantizes();
    }

    /** Loads a whole checkpoint file and its tokenizer at once (tests, small files). */
    void load(byte[] model, String modelName, byte[] tokenizerFile, String tokenizerName) {
        beginModel(modelName, model.length, false);
        acceptModelBytes(littleEndian(model));
        finishModel(tokenizerFile, tokenizerName);
    }

    /**
     * Uses a model loaded elsewhere: by shards (ShardExports), of which {@code transformer} is the
     * lead among {@code shards}; {@code quantizedOnLoad}: an fp32 file became Q8_0 as it was read.
     */
    void use(Checkpoint checkpoint, Tokenizer tokenizer, Transformer transformer, long modelBytes, int shards,
             boolean quantizedOnLoad) {
        unload();
        this.checkpoint = checkpoint;
        this.tokenizer = tokenizer;
        this.transformer = transformer;
        this.modelBytes = modelBytes;
        this.shards = shards;
        this.quantizedOnLoad = quantizedOnLoad;
    }

    /** Drops the model, so loading the next one does not hold two. */
    void unloadModel() {
        unload();
    }

    boolean loaded() {
        return transformer != null;
    }

    /** The model's facts for the page, as a JSON object. */
    String describe() {
        requireModel();
        Config config = checkpoint.config();
        return new Json()
                .put("dim", config.dim())
                .put("hiddenDim", config.hiddenDim())
                .put("nLayers", config.nLayers())
                .put("nHeads", config.nHeads())
                .put("nKvHeads", config.nKvHeads())
                .put("vocabSize", config.vocabSize())
                .put("seqLen", config.seqLen())
                .put("sharedClassifier", config.sharedClassifier())
                .put("parameters", config.parameterCount())
                .put("version", checkpoint.version())
                .put("format", checkpoint.formatName())
                .put("bytes", modelBytes)
                .put("shards", shards)
                .put("quantizedOnLoad", quantizedOnLoad)
                .toString();
    }

    /**
     * Begins a story, like run.c's generate: {@code steps} counts positions including the prompt
     * (0 means the model's seq_len); {@code seed} is run.c's -s. The numbers arrive as a page
     * sends them; the engine's own rules check them.
     */
    void startStory(String prompt, double temperature, double topp, double seed, double steps) {
        Sampler sampler = sampler(temperature, topp, seed, steps);
        story = new Generation(transformer, tokenizer, sampler, prompt, (int) steps);
        chat = null;
        last = null;
    }

    /**
     * The user's next message in a conversation, like run.c's chat mode. A new conversation
     * (with {@code systemPrompt}, may be empty, and these settings: {@code steps} positions
     * shared by every turn) begins when {@code newChat} says so, or when the last one cannot go
     * on (never started, stopped mid-answer, or out of context).
     */
    void chat(String message, String systemPrompt, double temperature, double topp, double seed, double steps,
              boolean newChat) {
        boolean goesOn = chat != null && last != null && last.end() == Step.End.TURN;
        if (newChat || !goesOn) {
            Sampler sampler = sampler(temperature, topp, seed, steps);
            chat = new Chat(transformer, tokenizer, sampler, (int) steps, systemPrompt);
            story = null;
        }
        chat.user(message);
        last = null;
    }

    /** Makes one token; its step says when it is the last of the story or of the assistant's turn. */
    Step step() {
        if (story == null && chat == null || last != null && last.isLast()) {
            throw new BadInputException("Nothing is being written; press Generate first.");
        }
        last = story != null ? story.step() : chat.step();
        return last;
    }

    /**
     * Story mode: BOS, the prompt's ids and the sampled ids so far, as the CLI's --ids prints
     * them. Chat mode: the ids sampled during the current turn.
     */
    int[] ids() {
        return story != null ? story.ids() : chat != null ? chat.ids() : new int[0];
    }

    /** The engine's sentence when a story's steps end inside its prompt; "" otherwise. */
    String promptNote() {
        return story != null ? story.promptNote() : "";
    }

    private Sampler sampler(double temperature, double topp, double seed, double steps) {
        requireModel();
        Sampler.checkSettings(temperature, topp);
        Generation.checkSteps(steps);
        return new Sampler(checkpoint.config().vocabSize(), (float) temperature, (float) topp, (long) seed);
    }

    private void unload() {
        checkpoint = null;
        transformer = null;
        tokenizer = null;
        story = null;
        chat = null;
        last = null;
        modelBytes = 0;
        shards = 1;
        arriving = null;
        quantizedOnLoad = false;
    }

    private void requireModel() {
        if (transformer == null) {
            throw new BadInputException("No model is loaded yet.");
        }
    }

    private static ByteBuffer littleEndian(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
