package llama2.web.train;

import java.nio.ByteBuffer;
import llama2.engine.BadInputException;
import llama2.engine.CheckpointLoader;
import llama2.engine.Config;
import llama2.train.Trainer;
import llama2.web.Json;
import org.teavm.jso.JSExport;
import org.teavm.jso.typedarrays.ArrayBuffer;
import org.teavm.jso.typedarrays.Float32Array;
import org.teavm.jso.typedarrays.Float64Array;
import org.teavm.jso.typedarrays.Int8Array;

/**
 * The functions the training worker (static/train-worker.js) calls; TeaVM compiles this class
 * to {@code wasm/trainer.wasm} and {@code js/trainer.js}, beside the engine's builds.
 *
 * <p>The learning rate comes as the text typed (parsed as the command line parses {@code --lr},
 * so the same digits give the same float), the seed as a number exact to 2^53.
 *
 * <p>As in {@link llama2.web.WorkerExports}, each returns one JSON object, {@code {"error":
 * sentence}} on failure; files come back through {@link #bytes()} after the call that made them.
 * One step is one call ({@link #trainStep()}), or, when several workers share a step, four:
 * {@link #beginStep()}, {@link #shardGradient} for each of this worker's shards, then
 * {@link #receiveGradient} for the others' and {@link #finishStep}. Between calls the worker's
 * event loop sees the page's Stop.
 */
public final class TrainerExports {
    private static Training training;
    private static byte[] lastBytes = new byte[0];

    private TrainerExports() {
    }

    /** TeaVM needs a main class; the worker drives everything through the exports. */
    public static void main(String[] args) {
    }

    /** Learns a tokenizer of {@code vocab} pieces from the text: {@code {"pieces"}}; its file in {@link #bytes()}. */
    @JSExport
    public static String learnTokenizer(ArrayBuffer text, int vocab) {
        try {
            lastBytes = Training.learnTokenizer(bytes(text), vocab);
            return new Json().put("pieces", vocab).put("bytes", lastBytes.length).toString();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** A new model of this shape (vocabulary: the tokenizer's) to train on the text: the run's facts. */
    @JSExport
    public static String scratch(ArrayBuffer text, ArrayBuffer tokenizer, int dim, int hidden, int layers, int heads,
                                 int kvHeads, int seqLen, int steps, int batch, String lr, int warmup, int shards,
                                 double seed) {
        try {
            Config shape = new Config(dim, hidden, layers, heads, kvHeads, 1, seqLen, true);
            training = null;
            training = Training.scratch(bytes(text), bytes(tokenizer), shape, settings(steps, batch, lr, warmup, shards, seed));
            return describe();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** Fine-tunes a llama2.c checkpoint on the text: the run's facts. */
    @JSExport
    public static String fineTune(ArrayBuffer text, ArrayBuffer model, ArrayBuffer tokenizer, int seqLen, int steps,
                                  int batch, String lr, int warmup, int shards, double seed) {
        try {
            training = null;
            training = Training.fineTune(bytes(text), bytes(model), bytes(tokenizer), seqLen,
                    settings(steps, batch, lr, warmup, shards, seed));
            return describe();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** A model of this shape on made-up tokens, whose steps take as long as a real run's: the run's facts. */
    @JSExport
    public static String rehearse(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, int steps,
                                  int batch, String lr, int warmup, int shards, double seed) {
        try {
            training = null;
            training = Training.rehearsal(new Config(dim, hidden, layers, heads, kvHeads, vocab, seqLen, true),
                    settings(steps, batch, lr, warmup, shards, seed));
            return describe();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /**
     * The shape of a llama2.c model file from its first bytes (up to 256: any version's header)
     * and its size, checked as the loader checks them: {@code {"dim", "hiddenDim", …, "parameters"}},
     * what a fine-tune of it trains, before its weights are read.
     */
    @JSExport
    public static String modelShape(ArrayBuffer head, double size, String name) {
        try {
            return shape(new Json(), CheckpointLoader.config(ByteBuffer.wrap(bytes(head)), (long) size, name)).toString();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** Continues a run from its checkpoint, on the same text and tokenizer: the run's facts. */
    @JSExport
    public static String resume(ArrayBuffer checkpoint, ArrayBuffer text, ArrayBuffer tokenizer) {
        try {
            training = null;
            training = Training.resume(bytes(checkpoint), bytes(text), bytes(tokenizer));
            return describe();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** One optimizer step over every shard: {@code {"step", "loss", "lr", "tokens"}}. */
    @JSExport
    public static String trainStep() {
        try {
            Trainer t = trainer();
            float lr = t.hp.learningRate(t.step());
            double loss = t.trainStep();
            return stepDone(t, loss, lr);
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** The first part of a step shared by several workers: draws its windows. */
    @JSExport
    public static String beginStep() {
        try {
            trainer().beginStep();
            return "{}";
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** Shard {@code w}'s forward and backward: {@code {"loss"}} (its windows' summed loss). */
    @JSExport
    public static String shardGradient(int w) {
        try {
            return new Json().put("loss", trainer().shardGradient(w)).toString();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** Shard {@code w}'s gradient, a copy to post to the other workers. */
    @JSExport
    public static Float32Array gradient(int w) {
        return Float32Array.copyFromJavaArray(trainer().gradient(w));
    }

    /** Shard {@code w}'s gradient, computed by another worker. */
    @JSExport
    public static String receiveGradient(int w, Float32Array gradient) {
        try {
            trainer().receiveGradient(w, gradient.copyToJavaArray());
            return "{}";
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** The last part of a shared step, given every shard's loss sum in shard order: as {@link #trainStep()}. */
    @JSExport
    public static String finishStep(Float64Array shardLosses) {
        try {
            Trainer t = trainer();
            float lr = t.hp.learningRate(t.step());
            double loss = t.finishStep(shardLosses.copyToJavaArray());
            return stepDone(t, loss, lr);
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** The loss on the held-out stories: {@code {"loss"}}, null when the text was too short to hold any out. */
    @JSExport
    public static String validationLoss() {
        try {
            double loss = current().validationLoss();
            if (!Double.isFinite(loss) && current().validTokens.length > 0) {
                throw new Trainer.Diverged(trainer().step(), "the validation loss is " + loss);
            }
            return new Json().put("loss", loss).toString();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** A short story from the weights as they are: {@code {"text"}}. */
    @JSExport
    public static String sample(String prompt, int steps, double seed) {
        try {
            return new Json().put("text", current().sample(prompt, steps, (long) seed)).toString();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** The model as a llama2.c file of {@code version} 0 (fp32) or 2 (Q8_0), in {@link #bytes()}. */
    @JSExport
    public static String exportModel(int version) {
        try {
            lastBytes = current().modelFile(version);
            return new Json().put("bytes", lastBytes.length).toString();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** The tokenizer file, in {@link #bytes()}. */
    @JSExport
    public static String exportTokenizer() {
        try {
            lastBytes = current().tokenizerFile;
            return new Json().put("bytes", lastBytes.length).toString();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** The training checkpoint (the CLI's format), in {@link #bytes()}; {@code seconds}: time trained in this session. */
    @JSExport
    public static String checkpoint(double seconds) {
        try {
            lastBytes = current().checkpointFile(seconds);
            return new Json().put("bytes", lastBytes.length).put("step", current().trainer.step()).toString();
        } catch (Throwable failure) {
            return error(failure);
        }
    }

    /** The file the last call made. */
    @JSExport
    public static Int8Array bytes() {
        return Int8Array.copyFromJavaArray(lastBytes);
    }

    private static Training.Settings settings(int steps, int batch, String lr, int warmup, int shards, double seed) {
        return new Training.Settings(steps, batch, Training.learningRate(lr), warmup, shards, (long) seed);
    }

    private static Training current() {
        if (training == null) {
            throw new BadInputException("No training run has started.");
        }
        return training;
    }

    private static Trainer trainer() {
        return current().trainer;
    }

    private static String describe() {
        Training run = current();
        Trainer t = run.trainer;
        Config c = t.model.config();
        return shape(new Json(), c)
                .put("tokens", run.tokens.length).put("validTokens", run.validTokens.length).put("step", t.step()).put("steps", t.hp.steps())
                .put("shards", t.hp.shards()).put("tokensPerStep", (long) t.hp.windowsPerStep() * c.seqLen())
                .put("lr", t.hp.learningRate()).put("seconds", t.previousSeconds())
                .toString();
    }

    private static Json shape(Json json, Config c) {
        return json.put("dim", c.dim()).put("hiddenDim", c.hiddenDim()).put("nLayers", c.nLayers())
                .put("nHeads", c.nHeads()).put("nKvHeads", c.nKvHeads()).put("vocabSize", c.vocabSize())
                .put("seqLen", c.seqLen()).put("sharedClassifier", c.sharedClassifier())
                .put("parameters", c.parameterCount());
    }

    private static String stepDone(Trainer t, double loss, float lr) {
        Training.requireFinite(t, loss);
        return new Json().put("step", t.step()).put("loss", loss).put("lr", lr).put("tokens", t.tokensSeen()).toString();
    }

    private static byte[] bytes(ArrayBuffer buffer) {
        return Int8Array.create(buffer).copyToJavaArray();
    }

    private static String error(Throwable failure) {
        return new Json().put("error", Training.explain(failure)).toString();
    }
}
