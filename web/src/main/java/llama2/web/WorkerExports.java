package llama2.web;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import llama2.engine.BadInputException;
import llama2.engine.Step;
import org.teavm.jso.JSExport;
import org.teavm.jso.typedarrays.ArrayBuffer;
import org.teavm.jso.typedarrays.Int8Array;

/**
 * The functions the Web Workers (static/worker.js, static/shards.js) call; TeaVM compiles this class to both
 * WebAssembly GC and JavaScript, with the same exports.
 *
 * <p>Three serve one worker: load, start and step; those named shard… a model split across workers
 * ({@link ShardExports}). Each returns one JSON object (a string: the one value both targets hand over cheaply), and
 * the worker crosses into Java once per token: {@link #step()} makes the token and says all the
 * page needs about it. Every call returns quickly, so the worker's event loop sees a Stop message
 * between two tokens. Failures come back as {@code {"error": sentence}} instead of exceptions,
 * because a Java exception crossing into JavaScript loses its message on the Wasm target.
 */
public final class WorkerExports {

    static final Session session = new Session();
    private static final ByteBuffer inbox = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);

    private WorkerExports() {
    }

    /** TeaVM needs a main class; the worker drives everything through the exports. */
    public static void main(String[] args) {
    }

    /**
     * Begins reading a model file of {@code size} bytes (the previous model is dropped first);
     * {@code quantize}: an fp32 model becomes Q8_0 as it arrives. Returns {@code {}} or
     * {@code {"error"}}.
     */
    @JSExport
    public static String beginModel(String modelName, double size, boolean quantize) {
        try {
            session.beginModel(modelName, (long) size, quantize);
            return "{}";
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /**
     * Where the worker writes the model file's next bytes before calling {@link #modelBytes}: a
     * view of one buffer that lives as long as the page, so reading a model makes no garbage
     * (a fresh array per chunk piles up faster than the browser collects it). Ask for the view
     * again before each chunk: the memory under it may have moved.
     */
    @JSExport
    public static Int8Array modelInbox() {
        return Int8Array.fromJavaBuffer(inbox);
    }

    /**
     * Hands the first {@code length} bytes of the inbox, the model file's next bytes in order, to
     * the engine, which copies them into its arrays at once. Returns {@code {}} or {@code {"error"}}.
     */
    @JSExport
    public static String modelBytes(int length) {
        try {
            session.acceptModelBytes(inbox(length));
            return "{}";
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** The inbox's first {@code length} bytes, which the worker wrote. */
    static ByteBuffer inbox(int length) {
        if (length < 0 || length > inbox.capacity()) {
            throw new IllegalArgumentException("inbox holds " + inbox.capacity() + " bytes, not " + length);
        }
        inbox.clear().limit(length);
        return inbox;
    }

    /**
     * Completes the model with its tokenizer's file bytes. Returns the model's facts ({@code dim,
     * hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, sharedClassifier, parameters,
     * version, format, bytes, quantizedOnLoad}) or {@code {"error"}}.
     */
    @JSExport
    public static String finishModel(ArrayBuffer tokenizer, String tokenizerName) {
        try {
            session.finishModel(Int8Array.create(tokenizer).copyToJavaArray(), tokenizerName);
            return session.describe();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /**
     * Starts a story ({@code mode} "generate": {@code text} is the prompt) or gives the assistant
     * the user's message ({@code mode} "chat": a conversation goes on until {@code newChat}).
     * Numbers arrive as JavaScript numbers (the seed exact to 2^53). Returns {@code {"ids"}},
     * the ids before the first step (a story's BOS; none in chat), to which each step's token is
     * added (except the BOS that ends a story) to give what the CLI's --ids prints, and
     * {@code "note"}, the engine's sentence when the steps end inside the prompt ("" if not); or
     * {@code {"error"}}.
     */
    @JSExport
    public static String start(String mode, String text, String system, double temperature, double topp,
                               double seed, double steps, boolean newChat) {
        try {
            if (mode.equals("chat")) {
                session.chat(text, system, temperature, topp, seed, steps, newChat);
            } else {
                session.startStory(text, temperature, topp, seed, steps);
            }
            return new Json().put("ids", session.ids()).put("note", session.promptNote()).toString();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /**
     * Makes one token: {@code {"token", "position", "text"}}, and on the last one also
     * {@code "end"}: "steps", "bos" (the model ended the story; this step's token is that BOS),
     * "turn" or "context". Or {@code {"error"}}, which ends it.
     */
    @JSExport
    public static String step() {
        try {
            Step step = session.step();
            Json json = new Json()
                    .put("token", step.token())
                    .put("position", step.position())
                    .put("text", step.text());
            if (step.isLast()) {
                json.put("end", step.end().word());
            }
            return json.toString();
        } catch (WorkerExchange.ForwardPending pending) { // shards passing messages run it stage by stage first
            return "{\"pending\":true}";
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    // The exports of a model split across workers (static/shards.js): see ShardExports.

    @JSExport
    public static String shardCount(Int8Array head, double size, String name, int wanted) {
        return ShardExports.shardCount(head, size, name, wanted);
    }

    @JSExport
    public static String shardLoadBegin(double size, String name, int shard, int shards, boolean quantize) {
        return ShardExports.shardLoadBegin(size, name, shard, shards, quantize);
    }

    @JSExport
    public static String shardLoadBytes(int length) {
        return ShardExports.shardLoadBytes(length);
    }

    @JSExport
    public static String shardWants() {
        return ShardExports.shardWants();
    }

    @JSExport
    public static String shardSkip(double bytes) {
        return ShardExports.shardSkip(bytes);
    }

    @JSExport
    public static String shardFollow() {
        return ShardExports.shardFollow();
    }

    @JSExport
    public static String shardLead(ArrayBuffer tokenizer, String tokenizerName) {
        return ShardExports.shardLead(tokenizer, tokenizerName);
    }

    @JSExport
    public static String shardForward(int token, int pos) {
        return ShardExports.shardForward(token, pos);
    }

    @JSExport
    public static String shardStage(int token, int pos, int stage) {
        return ShardExports.shardStage(token, pos, stage);
    }

    @JSExport
    public static String shardReceive() {
        return ShardExports.shardReceive();
    }

    static String error(Throwable failure) {
        return new Json().put("error", explain(failure)).toString();
    }

    /** A message a person can act on; the engine's BadInputException messages already are. */
    static String explain(Throwable failure) {
        if (failure instanceof BadInputException) {
            return failure.getMessage();
        }
        if (failure instanceof OutOfMemoryError) {
            return "Not enough memory for this model in this browser tab. Try a smaller model or close other tabs.";
        }
        String detail = failure.getMessage();
        return "Something went wrong inside the engine" + (detail == null ? "." : ": " + detail);
    }
}
