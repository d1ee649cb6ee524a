package llama2.web.tools;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Learns a byte-pair-encoding vocabulary from text, in the layout llama2.c's tokenizer expects:
 * {@code <unk>}, {@code <s>}, {@code </s>}, the 256 byte pieces, the single characters, then the
 * merged pieces in the order they were learned.
 *
 * <p>Merged pieces get decreasing scores (the first merge scores highest), so run.c's encoder,
 * which repeatedly applies the best-scoring merge, replays the merges in learning order.
 */
final class BpeVocabulary {

    /** A word or a punctuation mark with the space before it: merges never cross these. */
    private static final Pattern CHUNK = Pattern.compile(" ?[A-Za-z]+| ?[^A-Za-z\\s]|\\s", Pattern.DOTALL);

    final List<String> pieces = new ArrayList<>();
    final List<Float> scores = new ArrayList<>();

    private BpeVocabulary() {
    }

    /** Learns merges until the vocabulary holds {@code size} pieces. */
    static BpeVocabulary learn(List<String> texts, int size) {
        Map<String, Integer> chunkCounts = countChunks(texts);
        BpeVocabulary vocabulary = new BpeVocabulary();
        vocabulary.add("<unk>", 0);
        vocabulary.add("\n<s>\n", 0);   // llama2.c's tokenizer.bin spells BOS and EOS this way
        vocabulary.add("\n</s>\n", 0);
        for (int b = 0; b < 256; b++) {
            vocabulary.add(String.format("<0x%02X>", b), 0);
        }
        TreeSet<String> characters = new TreeSet<>();
        for (String chunk : chunkCounts.keySet()) {
            chunk.codePoints().forEach(c -> characters.add(Character.toString(c)));
        }
        characters.add(" ");
        for (String character : characters) {
            vocabulary.add(character, 0);
        }

        List<List<String>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        chunkCounts.forEach((chunk, count) -> {
            List<String> symbols = new ArrayList<>();
            chunk.codePoints().forEach(c -> symbols.add(Character.toString(c)));
            words.add(symbols);
            counts.add(count);
        });

        int merge = 0;
        while (vocabulary.pieces.size() < size) {
            String[] best = mostFrequentPair(words, counts);
            if (best == null) {
                break;
            }
            String joined = best[0] + best[1];
            vocabulary.add(joined, -(++merge));
            for (List<String> word : words) {
                replacePair(word, best[0], best[1], joined);
            }
        }
        return vocabulary;
    }

    private void add(String piece, float score) {
        pieces.add(piece);
        scores.add(score);
    }

    /** Words and single characters with their counts; text with rarer characters is still counted. */
    private static Map<String, Integer> countChunks(List<String> texts) {
        Map<String, Integer> counts = new HashMap<>();
        for (String text : texts) {
            Matcher matcher = CHUNK.matcher(" " + text); // run.c's dummy prefix: the first word has its space
            while (matcher.find()) {
                String chunk = matcher.group();
                if (chunk.chars().allMatch(c -> c >= 0x20 && c < 0x7f || c == '\n')) {
                    counts.merge(chunk, 1, Integer::sum);
                }
            }
        }
        return counts;
    }

    private static String[] mostFrequentPair(List<List<String>> words, List<Integer> counts) {
        Map<String, long[]> pairCounts = new HashMap<>();
        Map<String, String[]> pairs = new HashMap<>();
        for (int w = 0; w < words.size(); w++) {
            List<String> word = words.get(w);
            for (int i = 0; i + 1 < word.size(); i++) {
                String key = word.get(i) + '\u0000' + word.get(i + 1);
                pairCounts.computeIfAbsent(key, k -> new long[1])[0] += counts.get(w);
                pairs.putIfAbsent(key, new String[] {word.get(i), word.get(i + 1)});
            }
        }
        String bestKey = null;
        long bestCount = 0;
        for (Map.Entry<String, long[]> entry : pairCounts.entrySet()) {
            long count = entry.getValue()[0];
            if (count > bestCount || count == bestCount && bestKey != null && entry.getKey().compareTo(bestKey) < 0) {
                bestKey = entry.getKey();
                bestCount = count;
            }
        }
        return bestKey == null ? null : pairs.get(bestKey);
    }

    private static void replacePair(List<String> word, String left, String right, String joined) {
        for (int i = 0; i + 1 < word.size(); i++) {
            if (word.get(i).equals(left) && word.get(i + 1).equals(right)) {
                word.set(i, joined);
                word.remove(i + 1);
            }
        }
    }
}
