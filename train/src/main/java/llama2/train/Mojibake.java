package llama2.train;

import java.util.ArrayList;
import java.util.List;

/**
 * Repairs double-encoded UTF-8: text whose UTF-8 bytes were once decoded as Windows-1252 and
 * encoded again, so that a curly quote {@code “} (bytes E2 80 9C) reads {@code â€œ}. TinyStories
 * carries a few hundred of these.
 *
 * <p>The repair maps each character back to the Windows-1252 byte it came from and, where the
 * bytes spell a UTF-8 sequence of two to four bytes encoding a non-ASCII character, puts that
 * character back. Byte 9D has no Windows-1252 character and was lost in the data, so {@code â€}
 * followed by anything that is not a continuation byte is the right double quote {@code ”}
 * (E2 80 9D). Ordinary English text has no such sequences; the counts the commands print show
 * what was changed.
 */
public final class Mojibake {
    private Mojibake() {}

    /** Windows-1252's characters for bytes 80–9F (0 where it has none). */
    private static final char[] CP1252_80_9F = {
        '\u20AC', 0, '\u201A', '\u0192', '\u201E', '\u2026', '\u2020', '\u2021',
        '\u02C6', '\u2030', '\u0160', '\u2039', '\u0152', 0, '\u017D', 0,
        0, '\u2018', '\u2019', '\u201C', '\u201D', '\u2022', '\u2013', '\u2014',
        '\u02DC', '\u2122', '\u0161', '\u203A', '\u0153', 0, '\u017E', '\u0178',
    };

    /** The byte a character had before the wrong decoding, or -1 if it was not one byte above 7F. */
    static int byteOf(char c) {
        if (c >= 0x80 && c <= 0xFF) {
            return c; // Latin-1, and the C1 controls some decoders give bytes 81, 8D, 8F, 90, 9D
        }
        for (int i = 0; i < CP1252_80_9F.length; i++) {
            if (CP1252_80_9F[i] == c && c != 0) {
                return 0x80 + i;
            }
        }
        return -1;
    }

    private static boolean continuation(int b) {
        return b >= 0x80 && b <= 0xBF;
    }

    /** The text with every double-encoded sequence decoded; the same String if there was none. */
    static String repair(String text) {
        StringBuilder out = null;
        int i = 0, n = text.length();
        while (i < n) {
            int lead = byteOf(text.charAt(i));
            int more = lead >= 0xC2 && lead <= 0xDF ? 1 : lead >= 0xE0 && lead <= 0xEF ? 2 : lead >= 0xF0 && lead <= 0xF4 ? 3 : 0;
            int codePoint = -1, length = 0;
            if (more > 0) {
                int cp = lead & (0x3F >> more);
                int k = 1;
                for (; k <= more && i + k < n; k++) {
                    int b = byteOf(text.charAt(i + k));
                    if (!continuation(b)) {
                        break;
                    }
                    cp = cp << 6 | (b & 0x3F);
                }
                if (k == more + 1 && valid(cp, more)) {
                    codePoint = cp;
                    length = more + 1;
                } else if (lead == 0xE2 && k == 2 && byteOf(text.charAt(i + 1)) == 0x80) { // k == 2: the third byte is not a continuation
                    codePoint = '\u201D'; // E2 80 9D with the 9D lost
                    length = 2;
                }
            }
            if (codePoint < 0) {
                if (out != null) {
                    out.append(text.charAt(i));
                }
                i++;
            } else {
                if (out == null) {
                    out = new StringBuilder(n).append(text, 0, i);
                }
                out.appendCodePoint(codePoint);
                i += length;
            }
        }
        return out == null ? text : out.toString();
    }

    /** Not overlong, not a surrogate, not beyond Unicode. */
    private static boolean valid(int cp, int more) {
        int min = more == 1 ? 0x80 : more == 2 ? 0x800 : 0x10000;
        return cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }

    /** Stories after repair, and how many of them needed it. */
    public record Repaired(List<String> stories, int fixed) {}

    public static Repaired repair(List<String> stories) {
        List<String> out = new ArrayList<>(stories.size());
        int fixed = 0;
        for (String s : stories) {
            String r = repair(s);
            if (!r.equals(s)) {
                fixed++;
            }
            out.add(r);
        }
        return new Repaired(out, fixed);
    }
}
