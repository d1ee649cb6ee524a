package llama2.web;

import llama2.engine.BadInputException;
import org.teavm.jso.JSExport;
import org.teavm.jso.typedarrays.ArrayBuffer;
import org.teavm.jso.typedarrays.Int8Array;

/**
 * The functions the Web Worker (static/worker.js) calls; TeaVM compiles this class to both
 * WebAssembly GC and JavaScript, with the same exports.
 *
 * <p>Every call returns quickly: {@link #step()} makes one token, and the worker schedules the
 * next call itself, so the worker's event loop can see a Stop message between tokens. Calls that
 * can fail return an error message for people ("" when all went well) instead of throwing,
 * because a Java exception crossing into JavaScript loses its message on the Wasm target.
 */
public final class WorkerExports {

    private static final Session session = new Session();

    private WorkerExports() {
    }

    /** TeaVM needs a main class; the worker drives everything through the exports. */
    public static void main(String[] args) {
    }

    /** Loads a checkpoint and its tokenizer from their file bytes; "" or what went wrong. */
    @JSExport
    public static String load(ArrayBuffer model, String modelName, ArrayBuffer tokenizer, String tokenizerName) {
        try {
            byte[] modelBytes = Int8Array.create(model).copyToJavaArray();
            byte[] tokenizerBytes = Int8Array.create(tokenizer).copyToJavaArray();
            session.load(modelBytes, modelName, tokenizerBytes, tokenizerName);
            return "";
        } catch (Throwable failure) {
            return explain(failure);
        }
    }

    /** The loaded model's facts as JSON (dims, parameters, format, size). */
    @JSExport
    public static String describe() {
        return session.loaded() ? session.describe() : "{}";
    }

    /** Starts a story; "" or why it cannot start. The seed arrives as a JS number (exact to 2^53). */
    @JSExport
    public static String startStory(String prompt, double temperature, double topp, double seed, int steps) {
        try {
            session.startStory(prompt, (float) temperature, (float) topp, (long) seed, steps);
            return "";
        } catch (Throwable failure) {
            return explain(failure);
        }
    }

    /** Starts a new conversation (chat mode); "" or why it cannot start. */
    @JSExport
    public static String startChat(String systemPrompt, double temperature, double topp, double seed, int steps) {
        try {
            session.startChat(systemPrompt, (float) temperature, (float) topp, (long) seed, steps);
            return "";
        } catch (Throwable failure) {
            return explain(failure);
        }
    }

    /** True when the conversation waits for the user's next message. */
    @JSExport
    public static boolean chatWaitsForUser() {
        return session.chatWaitsForUser();
    }

    /** Gives the assistant the user's message; its answer comes through {@link #step()}. */
    @JSExport
    public static String chatTurn(String message) {
        try {
            session.chatTurn(message);
            return "";
        } catch (Throwable failure) {
            return explain(failure);
        }
    }

    /** Makes one token; false when the story has ended. Errors end the story (see {@link #lastError()}). */
    @JSExport
    public static boolean step() {
        try {
            lastError = "";
            return session.step();
        } catch (Throwable failure) {
            lastError = explain(failure);
            return false;
        }
    }

    private static String lastError = "";

    /** What went wrong in the last {@link #step()}, or "". */
    @JSExport
    public static String lastError() {
        return lastError;
    }

    @JSExport
    public static int tokenId() {
        return session.tokenId();
    }

    @JSExport
    public static int tokenPosition() {
        return session.tokenPosition();
    }

    /** The text the last token adds (UTF-8 joined across byte-fallback tokens; may be empty). */
    @JSExport
    public static String tokenText() {
        return session.tokenText();
    }

    /** The ids so far, space-separated, exactly as the CLI's --ids prints them. */
    @JSExport
    public static String ids() {
        return session.ids();
    }

    @JSExport
    public static String stopReason() {
        return session.stopReason();
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
