package llama2.checks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's "Use the engine from Java" example, as written: its code block is compiled against
 * {@code engine/target/llama2.jar} with javax.tools, run with the arguments of the README's own
 * command line (the bundled default model), and must print the story the command-line program
 * prints with the same settings.
 */
class ReadmeExampleTest {
    private static final Path REPOSITORY = Workflows.REPOSITORY;
    private static final Path ENGINE_JAR = REPOSITORY.resolve("engine/target/llama2.jar");
    private static final String SECTION = "## Use the engine from Java\n";
    /** The settings the example spells in Java, as the command line's flags. */
    private static final List<String> SAME_SETTINGS = List.of("-t", "0.8", "-p", "0.9", "-s", "42", "-n", "200", "-i", "Once upon a time");

    @Test
    void theExampleCompilesAndTellsTheStoryTheCommandLineTells(@TempDir Path dir) throws Exception {
        assertTrue(Files.isRegularFile(ENGINE_JAR), ENGINE_JAR + " is not built: run mvn verify (or mvn -pl engine package first)");
        String section = section();
        String source = block(section, "java");
        assertTrue(source.lines().count() <= 20, "the example has " + source.lines().count() + " lines, more than 20");
        Matcher className = Pattern.compile("public class (\\w+)").matcher(source);
        assertTrue(className.find(), "the example declares no public class");
        String name = className.group(1);

        Path classes = Files.createDirectories(dir.resolve("classes"));
        Path file = dir.resolve(name + ".java");
        Files.writeString(file, source);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int status = javac.run(null, diagnostics, diagnostics, "-cp", ENGINE_JAR.toString(), "-d", classes.toString(), file.toString());
        assertEquals(0, status, "README's example does not compile:\n" + diagnostics);

        // The README's command: java -cp engine/target/llama2.jar Story.java MODEL TOKENIZER
        List<String> command = Arrays.asList(block(section, "sh").trim().split("\\s+"));
        assertEquals(List.of("java", "-cp", "engine/target/llama2.jar", name + ".java"), command.subList(0, 4),
                "README's command line: " + command);
        List<String> arguments = command.subList(4, command.size());
        Run example = run(concat(List.of(java(), "-cp", ENGINE_JAR + java.io.File.pathSeparator + classes, name), arguments));
        assertEquals(0, example.status(), "the example failed: " + example.stderr());

        Run cli = run(concat(List.of(java(), "-jar", ENGINE_JAR.toString(), arguments.get(0), "-z", arguments.get(1)), SAME_SETTINGS));
        assertEquals(0, cli.status(), cli.stderr());
        assertTrue(example.stdout().startsWith("Once upon a time") && example.stdout().length() > 200, example.stdout());
        assertEquals(cli.stdout(), example.stdout(), "the example and `java -jar llama2.jar` with " + SAME_SETTINGS
                + " should tell the same story (if README's settings changed, change SAME_SETTINGS too)");
    }

    private static String section() throws IOException {
        String readme = Files.readString(REPOSITORY.resolve("README.md"));
        int start = readme.indexOf(SECTION);
        assertTrue(start >= 0, "README.md has no section '" + SECTION.trim() + "'");
        int end = readme.indexOf("\n## ", start + SECTION.length());
        return readme.substring(start, end < 0 ? readme.length() : end);
    }

    /** The first fenced code block of that language in the text. */
    private static String block(String text, String language) {
        Matcher m = Pattern.compile("```" + language + "\n(.*?)```", Pattern.DOTALL).matcher(text);
        assertTrue(m.find(), "no ```" + language + " block in README's section");
        return m.group(1);
    }

    private record Run(int status, String stdout, String stderr) {}

    private static Run run(List<String> command) throws IOException, InterruptedException {
        Path out = Files.createTempFile("readme-example", ".out");
        Path err = Files.createTempFile("readme-example", ".err");
        try {
            Process process = new ProcessBuilder(command).directory(REPOSITORY.toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            assertTrue(process.waitFor(5, TimeUnit.MINUTES), "still running after 5 minutes: " + command);
            return new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.delete(out);
            Files.delete(err);
        }
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
