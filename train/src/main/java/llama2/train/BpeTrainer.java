package llama2.train;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import llama2.engine.BadInputException;
import llama2.engine.Tokenizer;

/**
 * Trains a byte-fallback BPE vocabulary in the SentencePiece style llama2.c's tokenizers have.
 *
 * <p>Layout of the result: ids 0–2 {@code <unk>}, {@code <s>}, {@code </s>}; ids 3–258 the byte
 * pieces {@code <0x00>}..{@code <0xFF>}; then the learned merges in the order they were learned,
 * scored 0, −1, −2, … so that the engine's encoder (which always merges the adjacent pair whose
 * result scores highest) replays them in training order; then the single characters, most
 * frequent first, scored below every merge (they are never the result of a merge).
 *
 * <p>Characters are the alphabet: a code point is a piece if it is common enough (together the
 * chosen ones cover 99.99% of the text), otherwise the encoder spells it as byte pieces, which
 * never merge (run.c looks up the concatenated piece strings, and {@code "<0xE2><0x80>"} is no
 * piece), so training treats such characters as unmergeable too.
 *
 * <p>Like the engine's encoder, training sees each story with a space in front (the dummy
 * prefix), and it learns merges within words only: a word is a space followed by non-space
 * characters, and a newline is a word of its own. So pieces never contain a space except at their
 * start, the encoder can never merge across two words, and within a word its score order is the
 * training order. Everything is deterministic: ties between equally frequent pairs go to the
 * smaller piece ids.
 */
public final class BpeTrainer {
    /** Fraction of the characters of the text that must be covered by character pieces. */
    static final double CHARACTER_COVERAGE = 0.9999;
    static final int FIRST_LEARNED = 259;

    private final List<byte[]> pieces = new ArrayList<>();
    private final Map<String, Integer> idOfPiece = new HashMap<>();

    /** The result of training: the tokenizer and how many merges it learned. */
    /**
     * The result of training: the tokenizer, how many merges and characters it learned, and the
     * ids each distinct word of the text ended up as (what the encoder must reproduce).
     */
    public record Result(Tokenizer tokenizer, int merges, int characters, Map<String, int[]> segmentation) {}

    public static Result train(List<String> stories, int vocabSize) {
        if (vocabSize < FIRST_LEARNED) {
            throw new BadInputException("--vocab " + vocabSize + " is too small: ids 0-258 are the 3 special and 256 byte pieces");
        }
        return new BpeTrainer().run(stories, vocabSize);
    }

    private Result run(List<String> stories, int vocabSize) {
        add("<unk>");
        add("\n<s>\n");
        add("\n</s>\n");
        for (int b = 0; b < 256; b++) {
            add(String.format("<0x%02X>", b));
        }
        Map<String, Long> wordCounts = countWords(stories);
        int[] alphabet = chooseCharacters(wordCounts, vocabSize - FIRST_LEARNED);
        Map<Integer, Integer> charId = new HashMap<>();
        // character ids are assigned after the merges; during training they use temporary ids
        // in a separate range so merges can be numbered first
        int budgetForMerges = vocabSize - FIRST_LEARNED - alphabet.length;

        // symbols: chars are negative placeholders -(index+1) until the final numbering
        List<int[]> words = new ArrayList<>();
        List<Long> counts = new ArrayList<>();
        List<byte[]> symbolBytes = new ArrayList<>(); // bytes of every symbol, indexed by symbol id
        Map<String, Integer> symbolOf = new HashMap<>();
        for (int i = 0; i < alphabet.length; i++) {
            charId.put(alphabet[i], i);
            byte[] b = new String(Character.toChars(alphabet[i])).getBytes(StandardCharsets.UTF_8);
            symbolBytes.add(b);
            symbolOf.put(key(b), i);
        }
        final int unmergeable = -1;
        for (Map.Entry<String, Long> e : new TreeMap<>(wordCounts).entrySet()) {
            int[] cps = e.getKey().codePoints().toArray();
            int[] symbols = new int[cps.length];
            for (int i = 0; i < cps.length; i++) {
                symbols[i] = charId.getOrDefault(cps[i], unmergeable);
            }
            words.add(symbols);
            counts.add(e.getValue());
        }

        List<Integer> mergeResults = new ArrayList<>(); // symbol id of each learned piece, in order
        while (mergeResults.size() < budgetForMerges) {
            long bestCount = 0;
            long bestPair = -1;
            Map<Long, Long> pairCounts = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                int[] s = words.get(w);
                long c = counts.get(w);
                for (int i = 0; i + 1 < s.length; i++) {
                    if (s[i] == unmergeable || s[i + 1] == unmergeable) {
                        continue;
                    }
                    pairCounts.merge(pair(s[i], s[i + 1]), c, Long::sum);
                }
            }
            for (Map.Entry<Long, Long> e : pairCounts.entrySet()) {
                long p = e.getKey(), c = e.getValue();
                if (c > bestCount || (c == bestCount && p < bestPair)) {
                    bestCount = c;
                    bestPair = p;
                }
            }
            if (bestPair < 0) {
                break;
            }
            int left = (int) (bestPair >>> 32), right = (int) bestPair;
            byte[] merged = concat(symbolBytes.get(left), symbolBytes.get(right));
            Integer existing = symbolOf.get(key(merged));
            int id;
            if (existing != null) {
                id = existing; // the same string reached through another split: no new piece
            } else {
                id = symbolBytes.size();
                symbolBytes.add(merged);
                symbolOf.put(key(merged), id);
                mergeResults.add(id);
            }
            for (int w = 0; w < words.size(); w++) {
                words.set(w, applyMerge(words.get(w), left, right, id));
            }
        }
        if (mergeResults.size() < budgetForMerges) {
            throw new BadInputException("the text is too small for --vocab " + vocabSize + ": it yields only "
                    + (FIRST_LEARNED + alphabet.length + mergeResults.size()) + " pieces");
        }

        float[] scores = new float[vocabSize];
        for (int i = 0; i < mergeResults.size(); i++) {
            add(symbolBytes.get(mergeResults.get(i)));
            scores[FIRST_LEARNED + i] = -i;
        }
        for (int i = 0; i < alphabet.length; i++) {
            int id = add(symbolBytes.get(i));
            scores[id] = -(mergeResults.size() + i);
        }
        byte[][] all = pieces.toArray(new byte[0][]);
        int maxLength = 0;
        for (byte[] p : all) {
            maxLength = Math.max(maxLength, p.length);
        }
        // final ids: learned piece k is FIRST_LEARNED + k, character i follows the merges
        Map<Integer, Integer> finalId = new HashMap<>();
        for (int i = 0; i < mergeResults.size(); i++) {
            finalId.put(mergeResults.get(i), FIRST_LEARNED + i);
        }
        for (int i = 0; i < alphabet.length; i++) {
            finalId.put(i, FIRST_LEARNED + mergeResults.size() + i);
        }
        Map<String, int[]> segmentation = new HashMap<>();
        int w = 0;
        for (String word : new TreeMap<>(wordCounts).keySet()) {
            int[] symbols = words.get(w++);
            if (Arrays.stream(symbols).allMatch(finalId::containsKey)) {
                segmentation.put(word, Arrays.stream(symbols).map(finalId::get).toArray());
            }
        }
        return new Result(new Tokenizer(all, scores, maxLength), mergeResults.size(), alphabet.length, segmentation);
    }

    /**
     * Words with their counts: each story gets the dummy-prefix space, then a new word starts at
     * every space and every newline, and a newline is a word by itself.
     */
    static Map<String, Long> countWords(List<String> stories) {
        Map<String, Long> counts = new HashMap<>();
        for (String story : stories) {
            String text = " " + story;
            int start = 0;
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if ((c == ' ' || c == '\n') && i > start) {
                    counts.merge(text.substring(start, i), 1L, Long::sum);
                    start = i;
                }
                if (c == '\n') {
                    counts.merge("\n", 1L, Long::sum);
                    start = i + 1;
                }
            }
            if (start < text.length()) {
                counts.merge(text.substring(start), 1L, Long::sum);
            }
        }
        return counts;
    }

    /**
     * The code points that become pieces: most frequent first (ties by code point), until they
     * cover {@link #CHARACTER_COVERAGE} of the text; the space always (the encoder's dummy
     * prefix needs it). At most {@code budget} of them.
     */
    static int[] chooseCharacters(Map<String, Long> words, int budget) {
        Map<Integer, Long> counts = new HashMap<>();
        long total = 0;
        for (Map.Entry<String, Long> e : words.entrySet()) {
            for (int cp : e.getKey().codePoints().toArray()) {
                counts.merge(cp, e.getValue(), Long::sum);
                total += e.getValue();
            }
        }
        Integer[] order = counts.keySet().toArray(new Integer[0]);
        Arrays.sort(order, (a, b) -> {
            int byCount = Long.compare(counts.get(b), counts.get(a));
            return byCount != 0 ? byCount : Integer.compare(a, b);
        });
        List<Integer> chosen = new ArrayList<>();
        long covered = 0;
        for (int cp : order) {
            if (chosen.size() >= budget || covered >= CHARACTER_COVERAGE * total) {
                break;
            }
            chosen.add(cp);
            covered += counts.get(cp);
        }
        if (budget > 0 && !chosen.contains((int) ' ')) {
            chosen.set(chosen.size() - 1, (int) ' ');
        }
        return chosen.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int[] applyMerge(int[] s, int left, int right, int merged) {
        int matches = 0;
        for (int i = 0; i + 1 < s.length; i++) {
            if (s[i] == left && s[i + 1] == right) {
                matches++;
                i++;
            }
        }
        if (matches == 0) {
            return s;
        }
        int[] out = new int[s.length - matches];
        int k = 0;
        for (int i = 0; i < s.length; i++) {
            if (i + 1 < s.length && s[i] == left && s[i + 1] == right) {
                out[k++] = merged;
                i++;
            } else {
                out[k++] = s[i];
            }
        }
        return out;
    }

    private int add(String piece) {
        return add(piece.getBytes(StandardCharsets.UTF_8));
    }

    private int add(byte[] piece) {
        int id = pieces.size();
        pieces.add(piece);
        idOfPiece.put(key(piece), id);
        return id;
    }

    private static long pair(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static String key(byte[] bytes) {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }
}
