package llama2.web;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import llama2.engine.BadInputException;
import llama2.engine.Chat;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.Generation;
import llama2.engine.Sampler;
import llama2.engine.Step;
import llama2.engine.Tokenizer;
import llama2.engine.Transformer;

/**
 * What the browser worker holds between messages: one loaded model and the story being written.
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

    private Generation generation;  // the story being written, in story mode
    private Chat chat;              // the conversation, in chat mode
    private int[] turnIds = new int[0];
    private int turnLength;
    private Step lastStep;

    /** Loads a checkpoint (any version) and its tokenizer; the previous model is dropped first. */
    void load(byte[] model, String modelName, byte[] tokenizerFile, String tokenizerName) {
        unload();
        Checkpoint loaded = Checkpoint.read(littleEndian(model), modelName);
        Tokenizer vocabulary = Tokenizer.read(littleEndian(tokenizerFile), loaded.config().vocabSize());
        checkpoint = loaded;
        tokenizer = vocabulary;
        transformer = new Transformer(loaded.weights());
        modelBytes = model.length;
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
                .put("format", formatName(checkpoint))
                .put("bytes", modelBytes)
                .toString();
    }

    static String formatName(Checkpoint checkpoint) {
        return switch (checkpoint.version()) {
            case 0 -> "fp32, llama2.c legacy (version 0)";
            case 1 -> "fp32 (version 1)";
            default -> "Q8_0, group size " + checkpoint.groupSize() + " (version 2)";
        };
    }

    /**
     * Begins a story, like run.c's generate: {@code steps} counts positions including the prompt
     * (0 means the model's seq_len); {@code seed} is run.c's -s.
     */
    void startStory(String prompt, float temperature, float topp, long seed, int steps) {
        requireModel();
        checkSettings(temperature, topp, steps);
        Sampler sampler = new Sampler(checkpoint.config().vocabSize(), temperature, topp, seed);
        generation = new Generation(transformer, tokenizer, sampler, prompt, steps);
        chat = null;
        lastStep = null;
    }

    /**
     * Begins a conversation, like run.c's chat mode: {@code steps} positions in all, shared by
     * every turn; the system prompt (may be empty) goes into the first turn.
     */
    void startChat(String systemPrompt, float temperature, float topp, long seed, int steps) {
        requireModel();
        checkSettings(temperature, topp, steps);
        Sampler sampler = new Sampler(checkpoint.config().vocabSize(), temperature, topp, seed);
        chat = new Chat(transformer, tokenizer, sampler, steps, systemPrompt);
        generation = null;
        lastStep = null;
    }

    /** True when a conversation is waiting for the user's next message. */
    boolean chatWaitsForUser() {
        return chat != null && chat.needsUserInput();
    }

    /** The user's next message; the assistant answers through {@link #step()}. */
    void chatTurn(String message) {
        if (!chatWaitsForUser()) {
            throw new BadInputException(chat == null || !chat.isDone()
                    ? "Start a new chat first."
                    : "This conversation has used the model's whole context; start a new chat.");
        }
        chat.user(message);
        turnIds = new int[16];
        turnLength = 0;
        lastStep = null;
    }

    /**
     * Produces the next token; false when the story has ended or the assistant's turn is over
     * (then see {@link #stopReason()}).
     */
    boolean step() {
        if (chat != null) {
            if (chat.needsUserInput() || chat.isDone()) {
                return false;
            }
            lastStep = chat.step();
            remember(lastStep.token());
            return true;
        }
        if (generation == null || generation.isDone()) {
            return false;
        }
        lastStep = generation.step();
        return lastStep != null; // null: the model sampled BOS, which ends a story
    }

    private void remember(int token) {
        if (turnLength == turnIds.length) {
            turnIds = java.util.Arrays.copyOf(turnIds, turnLength * 2);
        }
        turnIds[turnLength++] = token;
    }

    int tokenId() {
        return lastStep.token();
    }

    int tokenPosition() {
        return lastStep.position();
    }

    String tokenText() {
        return lastStep.text();
    }

    /**
     * Story mode: BOS, the prompt's ids and the sampled ids so far, space-separated, as the CLI's
     * --ids prints them. Chat mode: the ids sampled during the current turn.
     */
    String ids() {
        int[] ids = generation != null ? generation.ids()
                : chat != null ? java.util.Arrays.copyOf(turnIds, turnLength) : new int[0];
        StringBuilder text = new StringBuilder();
        for (int id : ids) {
            if (text.length() > 0) {
                text.append(' ');
            }
            text.append(id);
        }
        return text.toString();
    }

    /**
     * Why the last step ended: "steps" (the limit), "bos" (the model ended the story), in chat
     * "turn" (the assistant finished; the user may answer) or "context" (no room left); "" while
     * still going.
     */
    String stopReason() {
        if (chat != null) {
            return chat.isDone() ? "context" : chat.needsUserInput() ? "turn" : "";
        }
        if (generation == null || generation.stopReason() == null) {
            return "";
        }
        return generation.stopReason();
    }

    private void unload() {
        checkpoint = null;
        transformer = null;
        tokenizer = null;
        generation = null;
        chat = null;
        lastStep = null;
        modelBytes = 0;
    }

    private void requireModel() {
        if (transformer == null) {
            throw new BadInputException("No model is loaded yet.");
        }
    }

    private static void checkSettings(float temperature, float topp, int steps) {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new BadInputException("Temperature must be a number of 0 or more (0 always picks the likeliest token).");
        }
        if (!(topp >= 0 && topp <= 1)) {
            throw new BadInputException("Top-p must be between 0 and 1.");
        }
        if (steps < 0) {
            throw new BadInputException("Steps must be 0 (the model's whole context) or more.");
        }
    }

    private static ByteBuffer littleEndian(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
