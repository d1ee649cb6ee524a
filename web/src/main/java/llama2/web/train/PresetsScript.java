package llama2.web.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

import llama2.engine.Config;
import llama2.train.Preset;
import llama2.web.Json;

/**
 * Writes the site's {@code presets.js} from the trainer's table ({@link Preset}), so the Train
 * view knows the model sizes as soon as the page is parsed, without waiting for the trainer:
 * {@code self.llama2TrainPresets = [{name, dim, hidden, layers, heads, kvHeads, vocab, seqLen,
 * batch, lr, like, parameters}, ...]}, in the menu's order. Run by the build (web/pom.xml) with
 * the site's folder as its argument.
 */
public final class PresetsScript {
    private PresetsScript() {}

    public static void main(String[] args) throws IOException {
        Path file = Path.of(args[0], "presets.js");
        Files.createDirectories(file.getParent());
        Files.writeString(file, script(), StandardCharsets.UTF_8);
    }

    static String script() {
        return "// Written by the build from llama2.train.Preset (PresetsScript.java): the Train view's model sizes.\n"
                + "self.llama2TrainPresets = ["
                + Arrays.stream(Preset.values()).map(PresetsScript::json).collect(Collectors.joining(",\n  ", "\n  ", "\n"))
                + "];\n";
    }

    private static String json(Preset p) {
        Config c = p.config();
        return new Json().put("name", p.label()).put("dim", c.dim()).put("hidden", c.hiddenDim())
                .put("layers", c.nLayers()).put("heads", c.nHeads()).put("kvHeads", c.nKvHeads())
                .put("vocab", c.vocabSize()).put("seqLen", c.seqLen()).put("batch", p.batch())
                .put("lr", Float.toString(p.learningRate())).put("like", p.like()).put("parameters", c.parameterCount())
                .toString();
    }
}
