package llama2.web.support;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import llama2.web.server.DevServer;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Debian's headless Chromium driven by Selenium, with the flags this sandboxed machine needs
 * (no background networking: the machine's closed network refuses it) and a fresh profile, so
 * Cache Storage starts empty. Another Chrome or Chromium can be named with {@code -Dchromium.binary=}
 * and {@code -Dchromium.driver=} (or the environment variables {@code CHROMIUM_BINARY} and
 * {@code CHROMEDRIVER}); {@code -Dchromium.required=true} (or {@code CHROMIUM_REQUIRED=true}) makes
 * a missing browser fail the tests instead of skipping them, as on CI.
 */
public final class Chromium implements AutoCloseable {
    public static final Path BROWSER = Path.of(setting("chromium.binary", "CHROMIUM_BINARY", "/usr/bin/chromium"));
    public static final Path DRIVER = Path.of(setting("chromium.driver", "CHROMEDRIVER", "/usr/bin/chromedriver"));
    private static final boolean REQUIRED = Boolean.parseBoolean(setting("chromium.required", "CHROMIUM_REQUIRED", "false"));

    private final Path profile;
    private final ChromeDriver driver;

    private Chromium() throws IOException {
        profile = Files.createTempDirectory("llama2-chromium-profile");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(BROWSER.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1000,900", "--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(DRIVER.toFile())
                .usingAnyFreePort()
                .build();
        driver = new ChromeDriver(service, options);
    }

    private static String setting(String property, String variable, String fallback) {
        String value = System.getProperty(property, System.getenv(variable));
        return value == null || value.isBlank() ? fallback : value;
    }

    /** Starts Chromium, or skips the calling test with the reason when it is not installed. */
    public static Chromium start() throws IOException {
        boolean installed = Files.isExecutable(BROWSER) && Files.isExecutable(DRIVER);
        String missing = BROWSER + " or " + DRIVER + " is missing: headless Chromium tests need Debian's chromium and "
                + "chromium-driver (apt-get install -y chromium chromium-driver), or -Dchromium.binary= and -Dchromium.driver=";
        if (REQUIRED && !installed) {
            throw new AssertionError(missing);
        }
        Assumptions.assumeTrue(installed, "skipped: " + missing);
        return new Chromium();
    }

    public WebDriver driver() {
        return driver;
    }

    public void open(String url) {
        driver.get(url);
    }

    public WebElement element(String id) {
        return driver.findElement(By.id(id));
    }

    public String state() {
        return (String) ((JavascriptExecutor) driver).executeScript("return document.body.dataset.state");
    }

    public String engine() {
        return (String) ((JavascriptExecutor) driver).executeScript("return document.body.dataset.engine || ''");
    }

    /** Waits until body[data-state] is one of {@code states}; returns the state reached. */
    public String awaitState(Duration timeout, String... states) {
        new WebDriverWait(driver, timeout).until(d -> java.util.List.of(states).contains(state()));
        return state();
    }

    /** Waits for the model to load and fails with the page's own message if it did not. */
    public void awaitReady(Duration timeout) {
        String state = awaitState(timeout, "ready", "error");
        if (!state.equals("ready")) {
            throw new AssertionError("the model did not load: " + element("status").getText());
        }
    }

    public Object script(String code, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(code, args);
    }

    /** Sets an input's value as a person would (clear, then type). */
    public void type(String id, String text) {
        WebElement input = element(id);
        input.clear();
        input.sendKeys(text);
    }

    @Override
    public void close() throws IOException {
        driver.quit();
        try (var files = Files.walk(profile)) {
            files.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
    }

    /** What a test class's set-up started: the browser, then the server; either may be null. */
    public static void close(Chromium browser, DevServer server) throws IOException {
        if (browser != null) {
            browser.close();
        }
        if (server != null) {
            server.close();
        }
    }
}
