package llama2.checks;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/** Every public type of the engine's library packages has a Javadoc comment: the API a user reads. */
class ApiDocumentationTest {
    private static final List<String> PACKAGES = List.of("llama2/engine", "llama2/io");
    private static final Pattern PUBLIC_TYPE = Pattern.compile(
            "^public (?:final |abstract |sealed |non-sealed )*(?:class|record|interface|enum) (\\w+)", Pattern.MULTILINE);

    @Test
    void everyPublicTypeHasAJavadocComment() throws IOException {
        List<String> undocumented = new ArrayList<>();
        int types = 0;
        for (String pkg : PACKAGES) {
            try (Stream<Path> files = Files.list(Workflows.REPOSITORY.resolve("engine/src/main/java").resolve(pkg))) {
                for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                    String source = Files.readString(file);
                    Matcher type = PUBLIC_TYPE.matcher(source);
                    if (type.find()) {
                        types++;
                        String before = source.substring(0, type.start()).replaceAll("(?m)^@\\w+(\\([^)]*\\))?\\s*$", "").strip();
                        if (!before.endsWith("*/") || !before.contains("/**")) {
                            undocumented.add(pkg + "/" + type.group(1));
                        }
                    }
                }
            }
        }
        assertTrue(types >= 10, "found only " + types + " public types");
        assertTrue(undocumented.isEmpty(), "public types without a Javadoc comment: " + undocumented);
    }
}
