package llama2.web.train;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.Generation;
import llama2.engine.Sampler;
import llama2.engine.Step;
import llama2.engine.Tokenizer;
import llama2.engine.Transformer;
import llama2.train.BpeTrainer;
import llama2.train.Hyperparameters;
import llama2.train.Model;
import llama2.train.Mojibake;
import llama2.train.ParameterLayout;
import llama2.train.Rng;
import llama2.train.ShardRunner;
import llama2.train.TokenFile;
import llama2.train.Trainer;
import llama2.train.TrainingCheckpoint;
import llama2.train.WeightsBridge;

/**
 * One training run in a browser worker: the trainer of {@code train/} on tokens of a text the
 * visitor gave, with no threads and no files. What the command line does in three commands
 * ({@code tokenizer}, {@code prepare}, {@code train --kernels portable}) this does from bytes, with
 * the same classes in the same order, so the same text, settings and seed give the same weights,
 * byte for byte.
 *
 * <p>Plain Java with no browser types: the JVM tests run exactly what the browser runs.
 * {@link TrainerExports} hands it the page's bytes and numbers.
 */
final class Training {
    /** How much of a text may be bytes that are not UTF-8 before it counts as binary (the CLI's rule). */
    private static final double MAX_INVALID_SHARE = 0.001;

    final Tokenizer tokenizer;
    final byte[] tokenizerFile;
    /** The tokens trained on, and those held out to measure the validation loss (none when the text is too short). */
    final int[] tokens;
    final int[] validTokens;
    final Trainer trainer;
    /** The tokenizer's fingerprint as the checkpoint records it: the CLI's, so it resumes the page's runs. */
    private final long tokenizerId;

    private Training(Tokenizer tokenizer, byte[] tokenizerFile, Split split, Trainer trainer) {
        this.tokenizer = tokenizer;
        this.tokenizerFile = tokenizerFile;
        this.tokens = split.train();
        this.validTokens = split.valid();
        this.trainer = trainer;
        this.tokenizerId = tokenizer == null ? 0 : TokenFile.fingerprint(tokenizer);
    }

    // ------------------------------------------------------------------------------ text

    /**
     * The stories of a text file's bytes, as the command line reads them: UTF-8, split at lines
     * {@code <|endoftext|>}, double-encoded UTF-8 repaired. Binary or empty text is refused.
     */
    static List<String> stories(byte[] text) {
        for (int i = 0; i < text.length; i++) {
            if (text[i] == 0) {
                throw new BadInputException("This is not a text file: it holds a NUL byte at offset " + i
                        + ". Give plain UTF-8 text (.txt).");
            }
        }
        String decoded = new String(text, StandardCharsets.UTF_8);
        long invalid = countReplacementCharacters(decoded) - countReplacementCharacters(text);
        if (invalid > MAX_INVALID_SHARE * text.length) {
            throw new BadInputException("This is not UTF-8 text: " + invalid + " of " + text.length
                    + " bytes are not UTF-8. Give plain UTF-8 text (.txt).");
        }
        List<String> stories = Mojibake.repair(TokenFile.stories(decoded)).stories();
        if (stories.isEmpty()) {
            throw new BadInputException("The text is empty: give some stories to learn from.");
        }
        return stories;
    }

    private static long countReplacementCharacters(String text) {
        long count = 0;
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) == '\uFFFD') {
                count++;
            }
        }
        return count;
    }

    /** U+FFFD characters written in the text itself (encoded as EF BF BD), not made by decoding. */
    private static long countReplacementCharacters(byte[] text) {
        long count = 0;
        for (int i = 0; i + 2 < text.length; i++) {
            if (text[i] == (byte) 0xEF && text[i + 1] == (byte) 0xBF && text[i + 2] == (byte) 0xBD) {
                count++;
            }
        }
        return count;
    }

    /** A byte-fallback BPE vocabulary of {@code vocabSize} pieces learned from the text: the CLI's {@code tokenizer}. */
    static byte[] learnTokenizer(byte[] text, int vocabSize) {
        if (vocabSize < 259 || vocabSize > 65536) {
            throw new BadInputException("The vocabulary must have between 259 and 65536 pieces, got " + vocabSize + ".");
        }
        return tokenizerBytes(BpeTrainer.train(stories(text), vocabSize).tokenizer());
    }

    /** Every story encoded with BOS in front, concatenated: the CLI's {@code prepare}. */
    static int[] encode(Tokenizer tokenizer, List<String> stories) {
        return TokenFile.concatenate(encodeEach(tokenizer, stories), 0, stories.size());
    }

    private static int[][] encodeEach(Tokenizer tokenizer, List<String> stories) {
        int[][] encoded = new int[stories.size()][];
        for (int s = 0; s < encoded.length; s++) {
            encoded[s] = tokenizer.encode(stories.get(s), true, false);
        }
        return encoded;
    }

    /** The tokens to train on and those held out for the validation loss (an empty array: none held out). */
    record Split(int[] train, int[] valid) {
    }

    /**
     * The last tenth of the stories (at least one, more if that is less than one window of
     * {@code seqLen} + 1 tokens) held out for validation, by the rule {@code prepare --valid-out}
     * follows too ({@link TokenFile#heldOutStories}); a text too short to spare a window and still
     * train on one is trained on whole, with no validation loss.
     */
    static Split split(Tokenizer tokenizer, List<String> stories, int seqLen) {
        int[][] encoded = encodeEach(tokenizer, stories);
        int[] lengths = new int[encoded.length];
        for (int s = 0; s < lengths.length; s++) {
            lengths[s] = encoded[s].length;
        }
        int n = encoded.length, held = TokenFile.heldOutStories(lengths, seqLen);
        return new Split(requireWindow(TokenFile.concatenate(encoded, 0, n - held), seqLen),
                TokenFile.concatenate(encoded, n - held, n));
    }

    private static int[] requireWindow(int[] tokens, int seqLen) {
        if (tokens.length < seqLen + 2) {
            throw new BadInputException("The text is too short: it makes " + tokens.length + " tokens, and one training"
                    + " window needs " + (seqLen + 2) + ". Give more text (or a shorter window).");
        }
        return tokens;
    }

    // ------------------------------------------------------------------------------ starting a run

    /** The settings of a run, as the page's form and the CLI's {@code train} flags name them. */
    record Settings(int steps, int batch, float lr, int warmup, int shards, long seed) {
        Hyperparameters hyperparameters() {
            return new Hyperparameters(steps, batch, 1, lr, lr / 10, warmup, 0.1f, 0.9f, 0.95f, 1.0f, shards, seed, 0f)
                    .validate();
        }
    }

    /** A learning rate as typed: parsed like the CLI's {@code --lr}. */
    static float learningRate(String text) {
        try {
            float lr = Float.parseFloat(text.trim());
            if (lr > 0 && lr < 1) {
                return lr;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new BadInputException("The learning rate must be a number between 0 and 1 (such as 0.001), got '" + text + "'.");
    }

    /** A new model of this shape (the vocabulary is the tokenizer's) trained on the text. */
    static Training scratch(byte[] text, byte[] tokenizerFile, Config shape, Settings settings) {
        Tokenizer tokenizer = tokenizer(tokenizerFile);
        Config config = new Config(shape.dim(), shape.hiddenDim(), shape.nLayers(), shape.nHeads(), shape.nKvHeads(),
                tokenizer.vocabSize(), shape.seqLen(), true).validate("the model");
        Hyperparameters hp = settings.hyperparameters();
        Split split = split(tokenizer, stories(text), config.seqLen());
        ParameterLayout layout = new ParameterLayout(config);
        Model model = new Model(layout, layout.initialise(new Rng(hp.seed() ^ 0x5DEECE66DL)));
        return new Training(tokenizer, tokenizerFile, split, new Trainer(model, hp, split.train(), ShardRunner.serial(hp.shards())));
    }

    /** Fine-tunes a llama2.c checkpoint (any version) on the text, in windows of {@code seqLen} tokens (0: the model's). */
    static Training fineTune(byte[] text, byte[] modelFile, byte[] tokenizerFile, int seqLen, Settings settings) {
        Checkpoint start = Checkpoint.read(littleEndian(modelFile), "the model");
        Config c = start.config();
        Config config = new Config(c.dim(), c.hiddenDim(), c.nLayers(), c.nHeads(), c.nKvHeads(), c.vocabSize(),
                seqLen > 0 ? Math.min(seqLen, c.seqLen()) : c.seqLen(), c.sharedClassifier()).validate("the model");
        Tokenizer tokenizer = Tokenizer.read(littleEndian(tokenizerFile), c.vocabSize(), "the tokenizer");
        Hyperparameters hp = settings.hyperparameters();
        Split split = split(tokenizer, stories(text), config.seqLen());
        ParameterLayout layout = new ParameterLayout(config);
        Model model = new Model(layout, WeightsBridge.fromWeights(layout, start.weights()));
        return new Training(tokenizer, tokenizerFile, split, new Trainer(model, hp, split.train(), ShardRunner.serial(hp.shards())));
    }

    /**
     * A new model of this shape on made-up tokens (no text, no tokenizer): its steps cost what a
     * real run's of the same shape and settings cost, so timing two of them estimates a run.
     */
    static Training rehearsal(Config shape, Settings settings) {
        Config config = shape.validate("the model");
        Hyperparameters hp = settings.hyperparameters();
        Rng rng = new Rng(hp.seed());
        int[] tokens = new int[config.seqLen() * 4 + 2];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rng.nextInt(config.vocabSize());
        }
        ParameterLayout layout = new ParameterLayout(config);
        Model model = new Model(layout, layout.initialise(new Rng(hp.seed() ^ 0x5DEECE66DL)));
        return new Training(null, new byte[0], new Split(tokens, new int[0]),
                new Trainer(model, hp, tokens, ShardRunner.serial(hp.shards())));
    }

    /** Continues a run from its checkpoint's bytes, on the same text and tokenizer. */
    static Training resume(byte[] checkpoint, byte[] text, byte[] tokenizerFile) {
        TrainingCheckpoint.State state = TrainingCheckpoint.read(littleEndian(checkpoint), "the saved run");
        Tokenizer tokenizer = Tokenizer.read(littleEndian(tokenizerFile), state.config().vocabSize(), "the tokenizer");
        Split split = split(tokenizer, stories(text), state.config().seqLen());
        return new Training(tokenizer, tokenizerFile, split, state.resume(split.train(), ShardRunner.serial(state.hp().shards())));
    }

    private static Tokenizer tokenizer(byte[] file) {
        return Tokenizer.read(littleEndian(file), countPieces(file), "the tokenizer");
    }

    /** A tokenizer file does not say how many pieces it holds: count them. */
    private static int countPieces(byte[] file) {
        ByteBuffer buffer = littleEndian(file);
        int count = 0;
        buffer.position(Math.min(4, file.length));
        while (buffer.remaining() >= 8) {
            buffer.getFloat();
            int length = buffer.getInt();
            if (length < 0 || length > buffer.remaining()) {
                throw new BadInputException("the tokenizer is damaged (piece " + count + " overruns the file)");
            }
            buffer.position(buffer.position() + length);
            count++;
        }
        return count;
    }

    // ------------------------------------------------------------------------------ results

    /** The weights as a llama2.c version 0 file; refused if any is not finite. */
    byte[] modelFile() {
        return modelFile(0);
    }

    /** The weights as a llama2.c file of this version: 0 (fp32, run.c's) or 2 (Q8_0, runq.c's, the CLI's export). */
    byte[] modelFile(int version) {
        ParameterLayout layout = trainer.model.layout;
        requireFiniteWeights();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            WeightsBridge.write(layout, trainer.model.params, version, out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    /** Windows the validation loss is measured on, at most: a fixed slice, cheap beside a step. */
    static final int VALID_WINDOWS = 8;

    /** The mean loss per token on the held-out stories (their first windows); NaN when none are held out. */
    double validationLoss() {
        return validTokens.length == 0 ? Double.NaN : trainer.validationLoss(validTokens, VALID_WINDOWS);
    }

    /** The training checkpoint (format 2, the CLI's {@code checkpoint.bin}) to resume from. */
    byte[] checkpointFile(double seconds) {
        requireFiniteWeights();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            TrainingCheckpoint.write(trainer, trainer.previousSeconds() + seconds, tokenizerId, out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    /** A short story from the weights as they are now (top-p 0.9, temperature 0.8): the prompt, then what follows. */
    String sample(String prompt, int steps, long seed) {
        Transformer transformer = new Transformer(WeightsBridge.toWeights(trainer.model.layout, trainer.model.params));
        Sampler sampler = new Sampler(tokenizer.vocabSize(), 0.8f, 0.9f, seed);
        Generation story = new Generation(transformer, tokenizer, sampler, prompt, Math.min(steps, trainer.model.layout.seqLen));
        StringBuilder text = new StringBuilder(); // the prompt's own tokens come first, as the story view shows them
        while (true) {
            Step step = story.step();
            if (step.isLast() && step.token() == Tokenizer.BOS) {
                break;
            }
            text.append(step.text());
            if (step.isLast()) {
                break;
            }
        }
        return text.toString();
    }

    // ------------------------------------------------------------------------------ failures

    /** Weights that are not all finite are a diverged run: nothing is written from them. */
    private void requireFiniteWeights() {
        float[] params = trainer.model.params;
        for (int i = 0; i < params.length; i++) {
            if (!Float.isFinite(params[i])) {
                throw new Trainer.Diverged(trainer.step(), "weight " + i + " is " + params[i]);
            }
        }
    }

    /** A step's loss that is not finite ends the run (the gradient's is checked by the trainer). */
    static void requireFinite(Trainer trainer, double loss) {
        if (!Double.isFinite(loss)) {
            throw new Trainer.Diverged(trainer.step(), "the loss is " + loss);
        }
    }

    /** One sentence for the visitor, in the page's words (its fields, not the CLI's flags). */
    static String explain(Throwable failure) {
        if (failure instanceof Trainer.Diverged diverged) {
            return "Step " + diverged.step + ": " + diverged.what + ": the run diverged. Lower the learning rate"
                    + " (such as a third of it) and start again.";
        }
        if (failure instanceof BadInputException) {
            return failure.getMessage();
        }
        if (failure instanceof OutOfMemoryError) {
            return "Not enough memory for this model in this browser tab. Choose a smaller preset or a shorter window.";
        }
        String detail = failure.getMessage();
        return "Something went wrong inside the trainer" + (detail == null ? "." : ": " + detail);
    }

    static byte[] tokenizerBytes(Tokenizer tokenizer) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            tokenizer.write(out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    static ByteBuffer littleEndian(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
