package llama2.web.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assumptions;

/** Where the built site, the repository's models and the read-only ../shared folder are. */
public final class Paths {
    private Paths() {
    }

    /** web/target/site, built by {@code mvn package} before the tests run. */
    public static Path site() {
        Path site = Path.of(System.getProperty("site.dir", "target/site"));
        if (!Files.isRegularFile(site.resolve("index.html")) || !Files.isRegularFile(site.resolve("js/engine.js"))) {
            throw new IllegalStateException("The site is not built in " + site.toAbsolutePath()
                    + "; run the tests through Maven (mvn -pl web verify), which builds it first.");
        }
        return site;
    }

    /** The repository's models/ folder (the bundled default model). */
    public static Path bundledModels() {
        return site().resolve("models");
    }

    /** The default model: the first entry of the site's {@code models.json}. */
    public record DefaultModel(String id, Path model, Path tokenizer) {}

    public static DefaultModel defaultModel() {
        return defaultModel(site());
    }

    /** The default model of the site built in {@code site}. */
    public static DefaultModel defaultModel(Path site) {
        try {
            String manifest = Files.readString(site.resolve("models/models.json"));
            String first = manifest.substring(manifest.indexOf('{'), manifest.indexOf('}') + 1);
            return new DefaultModel(field(first, "id"), site.resolve(field(first, "model")), site.resolve(field(first, "tokenizer")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The entry of the site's {@code models.json} with this id (the bundled fp32 twin of the default, say). */
    public static DefaultModel siteModel(String id) {
        Path site = site();
        try {
            String manifest = Files.readString(site.resolve("models/models.json"));
            Matcher entries = Pattern.compile("\\{[^{}]*\\}").matcher(manifest);
            while (entries.find()) {
                String entry = entries.group();
                if (field(entry, "id").equals(id)) {
                    return new DefaultModel(id, site.resolve(field(entry, "model")), site.resolve(field(entry, "tokenizer")));
                }
            }
            throw new IllegalStateException("models.json lists no model \"" + id + "\"");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String field(String object, String name) {
        Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*\"([^\"]*)\"").matcher(object);
        if (!m.find()) {
            throw new IllegalStateException("models.json: an entry has no \"" + name + "\"");
        }
        return m.group(1);
    }

    /** A file under ../shared; the calling test is skipped when it is missing. */
    public static Path shared(String relative) {
        String dir = System.getProperty("shared.dir");
        Assumptions.assumeTrue(dir != null, "skipped: the system property shared.dir is not set");
        Path file = Path.of(dir).resolve(relative);
        Assumptions.assumeTrue(Files.isReadable(file), "skipped: " + file + " is missing (../shared is not here)");
        return file;
    }
}
