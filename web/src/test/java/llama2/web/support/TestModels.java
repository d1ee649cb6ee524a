package llama2.web.support;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.Tokenizer;
import llama2.engine.Weights;

/**
 * Small models written by the engine's own writer for the page tests, and the
 * {@code models/models.json} that lists them (served in front of the real site's list).
 */
public final class TestModels {
    private final Path folder;
    private final List<String> entries = new ArrayList<>();

    /** {@code root} becomes an overlay folder: files go to {@code root/models/}. */
    public TestModels(Path root) throws IOException {
        this.folder = Files.createDirectories(root.resolve("models"));
    }

    /** A random fp32 model and a tokenizer whose every ordinary piece is a short word. */
    public TestModels addRandom(String id, Config config, int version) throws IOException {
        writeModel(id, Weights.random(config, 11), version);
        writeTokenizer(id, wordTokenizer(config.vocabSize()));
        return list(id);
    }

    /** As {@link #addRandom}, listed with {@code "chat": true}, so the page offers chat mode. */
    public TestModels addChatRandom(String id, Config config, int version) throws IOException {
        addRandom(id, config, version);
        String entry = entries.remove(entries.size() - 1);
        entries.add(entry.substring(0, entry.length() - 1) + ", \"chat\": true}");
        return this;
    }

    /** A model whose tokenizer turns every sampled token into HTML that would run script if parsed. */
    public TestModels addMarkup(String id, Config config) throws IOException {
        writeModel(id, Weights.random(config, 5), 1);
        writeTokenizer(id, markupTokenizer(config.vocabSize()));
        return list(id);
    }

    /** A model file cut short: its header promises more bytes than the file holds. */
    public TestModels addTruncated(String id, Config config) throws IOException {
        writeModel(id, Weights.random(config, 3), 1);
        Path model = folder.resolve(id + ".bin");
        byte[] bytes = Files.readAllBytes(model);
        Files.write(model, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        writeTokenizer(id, wordTokenizer(config.vocabSize()));
        return list(id);
    }

    /** Lists a copy of a model file and its tokenizer (for example the reference's, from ../shared). */
    public TestModels addCopy(String id, Path model, Path tokenizer) throws IOException {
        Files.copy(model, model(id), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.copy(tokenizer, tokenizer(id), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return list(id);
    }

    /** Lists a model whose files the caller wrote to {@link #model} and {@link #tokenizer}. */
    public TestModels addExisting(String id) throws IOException {
        return list(id);
    }

    /** Lists a model whose files are not on the server, as after a broken deploy. */
    public TestModels addListedButMissing(String id) {
        entries.add("{\"id\": \"" + id + "\", \"name\": \"Test model " + id + "\", \"model\": \"models/" + id
                + ".bin\", \"tokenizer\": \"models/" + id + "-tokenizer.bin\", \"bytes\": 1000}");
        return this;
    }

    /** Lists the real site's models (from its models.json) before the test models. */
    public TestModels withSiteModels(Path siteManifest) throws IOException {
        String list = Files.readString(siteManifest, StandardCharsets.UTF_8).strip();
        if (!list.startsWith("[") || !list.endsWith("]")) {
            throw new IllegalStateException(siteManifest + " is not a JSON array");
        }
        String inner = list.substring(1, list.length() - 1).strip();
        if (!inner.isEmpty()) {
            entries.add(0, inner);
        }
        return this;
    }

    public Path model(String id) {
        return folder.resolve(id + ".bin");
    }

    public Path tokenizer(String id) {
        return folder.resolve(id + "-tokenizer.bin");
    }

    /** Writes models/models.json listing the models added so far, first one first. */
    public void writeManifest() throws IOException {
        Files.writeString(folder.resolve("models.json"), "[\n" + String.join(",\n", entries) + "\n]\n",
                StandardCharsets.UTF_8);
    }

    private TestModels list(String id) throws IOException {
        entries.add("{\"id\": \"" + id + "\", \"name\": \"Test model " + id + "\", \"model\": \"models/" + id
                + ".bin\", \"tokenizer\": \"models/" + id + "-tokenizer.bin\", \"bytes\": " + Files.size(model(id)) + "}");
        return this;
    }

    private void writeModel(String id, Weights weights, int version) throws IOException {
        try (OutputStream out = Files.newOutputStream(model(id))) {
            Checkpoint.write(weights, version, version == 2 ? Checkpoint.defaultGroupSize(weights.config()) : 0, out);
        }
    }

    private void writeTokenizer(String id, Tokenizer tokenizer) throws IOException {
        try (OutputStream out = Files.newOutputStream(tokenizer(id))) {
            tokenizer.write(out);
        }
    }

    /** Specials, the 256 byte pieces, " ", lower-case letters, then made-up words. */
    public static Tokenizer wordTokenizer(int vocabSize) {
        List<String> pieces = specialsAndBytes();
        pieces.add(" ");
        for (char c = 'a'; c <= 'z' && pieces.size() < vocabSize; c++) {
            pieces.add(String.valueOf(c));
        }
        String[] syllables = {"ba", "lo", "mi", "ra", "tu", "ne", "so", "ki"};
        for (int i = 0; pieces.size() < vocabSize; i++) {
            pieces.add(" " + syllables[i % syllables.length] + syllables[(i / syllables.length) % syllables.length]
                    + (i >= syllables.length * syllables.length ? Integer.toString(i) : ""));
        }
        return tokenizer(pieces);
    }

    /** Every piece from id 3 on (byte pieces included) is an {@code <img onerror>} tag. */
    public static Tokenizer markupTokenizer(int vocabSize) {
        List<String> pieces = new ArrayList<>(List.of("<unk>", "\n<s>\n", "\n</s>\n"));
        pieces.add(" ");
        while (pieces.size() < vocabSize) {
            pieces.add("<img src=x onerror=\"window.pwned=" + pieces.size() + "\">");
        }
        return tokenizer(pieces);
    }

    private static List<String> specialsAndBytes() {
        List<String> pieces = new ArrayList<>(List.of("<unk>", "\n<s>\n", "\n</s>\n"));
        for (int b = 0; b < 256; b++) {
            pieces.add(String.format("<0x%02X>", b));
        }
        return pieces;
    }

    private static Tokenizer tokenizer(List<String> pieces) {
        byte[][] bytes = new byte[pieces.size()][];
        float[] scores = new float[pieces.size()];
        int longest = 1;
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = pieces.get(i).getBytes(StandardCharsets.UTF_8);
            longest = Math.max(longest, bytes[i].length);
        }
        return new Tokenizer(bytes, scores, longest);
    }
}
