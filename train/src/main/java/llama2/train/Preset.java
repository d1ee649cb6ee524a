package llama2.train;

import java.util.Arrays;
import java.util.Locale;

import llama2.engine.BadInputException;
import llama2.engine.Config;

/**
 * The Train view's model sizes, by what they cost: a shape (with its vocabulary and a 256-token
 * window) and the batch and learning rate it trains well with. The page's menu and fields, the
 * {@code bench} subcommand's {@code --configs tiny,small} and the tests all take them from here
 * (the page by {@code presets.js}, which the web build writes from this table).
 */
public enum Preset {
    TINY(new Config(64, 172, 5, 8, 4, 512, 256, true), 8, 1e-3f, "stories260K"),
    SMALL(new Config(128, 352, 6, 8, 8, 2048, 256, true), 16, 1e-3f, "stories1.5M");

    private final Config config;
    private final int batch;
    private final float learningRate;
    private final String like;

    Preset(Config config, int batch, float learningRate, String like) {
        this.config = config.validate("preset");
        this.batch = batch;
        this.learningRate = learningRate;
        this.like = like;
    }

    /** The shape, its vocabulary and window (a run from scratch learns a tokenizer of this size). */
    public Config config() {
        return config;
    }

    public int batch() {
        return batch;
    }

    public float learningRate() {
        return learningRate;
    }

    /** The known model of the same shape. */
    public String like() {
        return like;
    }

    /** The name the page, the address (?preset=) and the command line use: "tiny", "small". */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Preset named(String name) {
        return Arrays.stream(values()).filter(p -> p.label().equals(name)).findFirst()
                .orElseThrow(() -> new BadInputException("no preset is named '" + name + "': there are "
                        + String.join(", ", Arrays.stream(values()).map(Preset::label).toList())));
    }
}
