package llama2.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.security.MessageDigest;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The plain-Java SHA-256 behind tokenizer fingerprints against the JDK's, across block boundaries. */
class Sha256Test {
    @Test
    void digestsAsTheJdkDoes() throws Exception {
        Random random = new Random(3);
        for (int length : new int[] {0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 100_003}) {
            byte[] bytes = new byte[length];
            random.nextBytes(bytes);
            Sha256 sha = new Sha256();
            sha.write(bytes, 0, length);
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(bytes), sha.digest(), length + " bytes");
        }
    }
}
