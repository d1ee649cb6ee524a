package llama2.web.tools;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.FloatMatrix;
import llama2.engine.Matrix;
import llama2.engine.Tokenizer;
import llama2.engine.Weights;

/**
 * Makes the site's bundled placeholder model until the project's trained model replaces it:
 * a BPE tokenizer learned from TinyStories and a word-pair (bigram) model of the same text,
 * written as an ordinary llama2.c checkpoint the engine runs like any other.
 *
 * <p>How a bigram model becomes a Llama 2 checkpoint: the matrix of log-probabilities
 * {@code L[a][b] = log P(next = b | token = a)} is factored as {@code Q·B} with rank dim - 1.
 * Row {@code a} of Q, padded with one value so every row has length 1, is token a's embedding;
 * so RMSNorm scales every embedding by the same factor, which the classifier (from B) undoes.
 * The attention and feed-forward output matrices (wo, w2) are zero, so the residual stream
 * carries the embedding unchanged to the classifier: logits = L[token]. The other layer
 * weights are random, so the browser still does a full forward pass per token.
 *
 * <p>Usage: {@code PlaceholderModel <stories.txt> <output folder>}; writes
 * {@code placeholder.bin} (format version 2, Q8_0) and {@code placeholder-tokenizer.bin}.
 */
public final class PlaceholderModel {

    static final Config SHAPE = new Config(128, 384, 2, 4, 4, 2048, 256, false);
    static final int GROUP_SIZE = 64;
    /** Added to every pair count, so that unseen pairs stay possible but unlikely. */
    static final double SMOOTHING = 0.01;

    private PlaceholderModel() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: PlaceholderModel <stories.txt> <output folder>");
            System.exit(2);
        }
        List<String> stories = readStories(Path.of(args[0]));
        Path out = Path.of(args[1]);
        Files.createDirectories(out);

        System.err.println("learning a " + SHAPE.vocabSize() + "-piece vocabulary from " + stories.size() + " stories");
        BpeVocabulary vocabulary = BpeVocabulary.learn(stories, SHAPE.vocabSize());
        Tokenizer tokenizer = toTokenizer(vocabulary);

        System.err.println("counting token pairs");
        double[][] logProbabilities = bigramLogProbabilities(stories, tokenizer);
        System.err.println("factoring the " + SHAPE.vocabSize() + "² matrix to rank " + (SHAPE.dim() - 1));
        LowRank factors = LowRank.of(logProbabilities, SHAPE.dim() - 1, 12, 42);
        Weights weights = toWeights(factors).quantized(GROUP_SIZE);

        try (OutputStream file = Files.newOutputStream(out.resolve("placeholder.bin"))) {
            Checkpoint.write(weights, 2, GROUP_SIZE, file);
        }
        try (OutputStream file = Files.newOutputStream(out.resolve("placeholder-tokenizer.bin"))) {
            tokenizer.write(file);
        }
        System.err.println("wrote " + out.resolve("placeholder.bin") + " and its tokenizer");
    }

    /**
     * Stories are separated by lines holding only {@code <|endoftext|>}. Line breaks become
     * spaces: a model that sees one token back cannot tell an opening quote after a line break
     * from a closing one, and loops between them. Typographic quotes and dashes become ASCII and
     * other non-ASCII characters are dropped: one byte-fallback token followed by another picked
     * by a bigram model would rarely make a valid UTF-8 character.
     */
    static List<String> readStories(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        List<String> stories = new ArrayList<>();
        for (String story : text.split("\n?<\\|endoftext\\|>\n?")) {
            if (!story.isBlank()) {
                stories.add(plainAscii(story.strip().replaceAll("\\s*\\n\\s*", " ")));
            }
        }
        return stories;
    }

    static String plainAscii(String text) {
        return text.replaceAll("[\u2018\u2019]", "'")
                .replaceAll("[\u201C\u201D]", "\"")
                .replaceAll("[\u2013\u2014]", "-")
                .replace("\u2026", "...")
                .replaceAll("[^\\x20-\\x7E]", "");
    }

    static Tokenizer toTokenizer(BpeVocabulary vocabulary) {
        int size = vocabulary.pieces.size();
        byte[][] pieces = new byte[size][];
        float[] scores = new float[size];
        int longest = 1;
        for (int id = 0; id < size; id++) {
            pieces[id] = vocabulary.pieces.get(id).getBytes(StandardCharsets.UTF_8);
            scores[id] = vocabulary.scores.get(id);
            longest = Math.max(longest, pieces[id].length);
        }
        return new Tokenizer(pieces, scores, longest);
    }

    /**
     * Row-centred log P(b | a), counting each story as BOS, its tokens, then BOS again (a sampled
     * BOS is how a story ends in run.c's loop).
     */
    static double[][] bigramLogProbabilities(List<String> stories, Tokenizer tokenizer) {
        int v = SHAPE.vocabSize();
        double[][] counts = new double[v][v];
        for (String story : stories) {
            int[] ids = tokenizer.encode(story, true, false);
            for (int i = 0; i + 1 < ids.length; i++) {
                counts[ids[i]][ids[i + 1]]++;
            }
            counts[ids[ids.length - 1]][Tokenizer.BOS]++;
        }
        for (double[] row : counts) {
            double total = Arrays.stream(row).sum() + SMOOTHING * v;
            double mean = 0;
            for (int b = 0; b < v; b++) {
                row[b] = Math.log((row[b] + SMOOTHING) / total);
                mean += row[b] / v;
            }
            for (int b = 0; b < v; b++) {
                row[b] -= mean; // softmax ignores a constant per row; centring helps the low-rank fit
            }
        }
        return counts;
    }

    static Weights toWeights(LowRank factors) {
        Config c = SHAPE;
        int v = c.vocabSize(), dim = c.dim(), rank = dim - 1;
        float[] embedding = new float[v * dim];
        for (int a = 0; a < v; a++) {
            double squares = 0;
            for (int j = 0; j < rank; j++) {
                embedding[a * dim + j] = (float) factors.q[a][j];
                squares += factors.q[a][j] * factors.q[a][j];
            }
            embedding[a * dim + rank] = (float) Math.sqrt(Math.max(0, 1 - squares));
        }
        // RMSNorm multiplies a unit-length row by 1 / sqrt(1/dim + 1e-5); the classifier divides it out.
        double norm = 1 / Math.sqrt(1.0 / dim + 1e-5);
        float[] classifier = new float[v * dim];
        for (int b = 0; b < v; b++) {
            for (int j = 0; j < rank; j++) {
                classifier[b * dim + j] = (float) (factors.b[j][b] / norm);
            }
        }
        Weights random = Weights.random(c, 7);
        float[][] ones = new float[c.nLayers()][dim];
        for (float[] row : ones) {
            Arrays.fill(row, 1f);
        }
        float[] finalNorm = new float[dim];
        Arrays.fill(finalNorm, 1f);
        return new Weights(c, new FloatMatrix(v, dim, embedding),
                ones, random.wq(), random.wk(), random.wv(), zeros(c.nLayers(), dim, dim),
                ones, random.w1(), zeros(c.nLayers(), dim, c.hiddenDim()), random.w3(),
                finalNorm, new FloatMatrix(v, dim, classifier));
    }

    private static Matrix[] zeros(int layers, int rows, int cols) {
        Matrix[] out = new Matrix[layers];
        for (int l = 0; l < layers; l++) {
            out[l] = new FloatMatrix(rows, cols, new float[rows * cols]);
        }
        return out;
    }
}
