package llama2.checks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The GitHub Actions workflows of {@code .github/workflows}, parsed as GitHub reads them: YAML
 * with duplicate keys refused, and the key {@code on} as a string (YAML 1.1 parsers such as
 * SnakeYAML read a bare {@code on} as the boolean true).
 */
final class Workflows {
    private Workflows() {
    }

    static final Path REPOSITORY = Path.of(System.getProperty("repository.dir", "..")).toAbsolutePath().normalize();
    static final Path FOLDER = REPOSITORY.resolve(".github/workflows");

    /** One workflow file: its name in the folder and its parsed content. */
    record Workflow(String file, Map<String, Object> yaml) {
        String name() {
            return (String) yaml.get("name");
        }

        /** The triggers by event name; {@code on: push} and {@code on: [push, pull_request]} included. */
        Map<String, Object> triggers() {
            Object on = yaml.containsKey("on") ? yaml.get("on") : yaml.get(Boolean.TRUE);
            Map<String, Object> events = new LinkedHashMap<>();
            if (on instanceof String event) {
                events.put(event, null);
            } else if (on instanceof List<?> list) {
                list.forEach(event -> events.put((String) event, null));
            } else if (on instanceof Map<?, ?> map) {
                map.forEach((event, config) -> events.put((String) event, config));
            }
            return events;
        }

        Map<String, Map<String, Object>> jobs() {
            return map(yaml.get("jobs"));
        }
    }

    /** Every *.yml and *.yaml file of the folder, sorted by name. */
    static List<Workflow> all() {
        try (Stream<Path> files = Files.list(FOLDER)) {
            List<Workflow> workflows = new ArrayList<>();
            for (Path file : files.sorted().toList()) {
                String name = file.getFileName().toString();
                if (name.endsWith(".yml") || name.endsWith(".yaml")) {
                    workflows.add(new Workflow(name, parse(file)));
                }
            }
            return workflows;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Workflow named(String file) {
        return all().stream().filter(w -> w.file().equals(file)).findFirst()
                .orElseThrow(() -> new AssertionError(FOLDER.resolve(file) + " is missing"));
    }

    private static Map<String, Object> parse(Path file) throws IOException {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        Object yaml = new Yaml(options).load(Files.readString(file));
        if (!(yaml instanceof Map)) {
            throw new AssertionError(file + ": expected a mapping at the top, found " + yaml);
        }
        return map(yaml);
    }

    /** A YAML mapping (or nothing) as a map; anything else is a structural error. */
    @SuppressWarnings("unchecked")
    static <V> Map<String, V> map(Object yaml) {
        if (yaml == null) {
            return Map.of();
        }
        if (!(yaml instanceof Map)) {
            throw new AssertionError("expected a mapping, found " + yaml);
        }
        return (Map<String, V>) yaml;
    }

    /** A YAML sequence (or nothing) as a list of mappings. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> mappings(Object yaml) {
        if (yaml == null) {
            return List.of();
        }
        if (!(yaml instanceof List)) {
            throw new AssertionError("expected a list, found " + yaml);
        }
        return (List<Map<String, Object>>) yaml;
    }

    /** A string or a list of strings (as {@code needs} and {@code branches} are written) as a list. */
    static List<String> strings(Object yaml) {
        if (yaml == null) {
            return List.of();
        }
        if (yaml instanceof List<?> list) {
            return list.stream().map(String::valueOf).toList();
        }
        return List.of(String.valueOf(yaml));
    }

    /** Every string inside a parsed YAML value: where expressions such as ${{ ... }} live. */
    static List<String> allStrings(Object yaml) {
        List<String> found = new ArrayList<>();
        collect(yaml, found);
        return found;
    }

    private static void collect(Object yaml, List<String> found) {
        if (yaml instanceof String s) {
            found.add(s);
        } else if (yaml instanceof Map<?, ?> map) {
            map.values().forEach(v -> collect(v, found));
        } else if (yaml instanceof List<?> list) {
            list.forEach(v -> collect(v, found));
        }
    }
}
