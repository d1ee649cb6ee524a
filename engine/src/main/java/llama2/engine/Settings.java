package llama2.engine;

/**
 * How a {@link LanguageModel} samples, with run.c's meaning and defaults: {@code temperature}
 * (0 is greedy, always the likeliest token; default 1.0), {@code topp} (nucleus sampling, 0 or 1
 * turns it off; default 0.9), {@code seed} (the same seed tells the same story; 0 draws one from
 * the clock, as run.c does) and {@code steps} (positions including the prompt; 0 means the whole
 * context of the model; default 256).
 *
 * <pre>{@code Settings settings = Settings.defaults().withTemperature(0.8f).withSeed(42);}</pre>
 *
 * An impossible value is refused with a {@link BadInputException} that names it.
 */
public record Settings(float temperature, float topp, long seed, int steps) {
    public Settings {
        Sampler.checkSettings(temperature, topp);
        Generation.checkSteps(steps);
    }

    /** run.c's defaults: temperature 1.0, top-p 0.9, a seed from the clock, 256 steps. */
    public static Settings defaults() {
        return new Settings(1.0f, 0.9f, 0, 256);
    }

    public Settings withTemperature(float temperature) {
        return new Settings(temperature, topp, seed, steps);
    }

    public Settings withTopp(float topp) {
        return new Settings(temperature, topp, seed, steps);
    }

    public Settings withSeed(long seed) {
        return new Settings(temperature, topp, seed, steps);
    }

    public Settings withSteps(int steps) {
        return new Settings(temperature, topp, seed, steps);
    }

    /** The seed the sampler starts from: this one, or the clock's when it is 0. */
    long effectiveSeed() {
        return seed != 0 ? seed : System.currentTimeMillis() / 1000; // run.c: time(NULL)
    }
}
