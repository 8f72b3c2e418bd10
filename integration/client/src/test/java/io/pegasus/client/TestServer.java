package io.pegasus.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real pegasus-server process for tests: {@code node shuffle-server/bin/pegasus-server.js
 * --port 0 --data-dir <temp> --log-level warn}, ready once it prints its "listening" line.
 * Extra arguments follow those; extra environment variables (the server's fault seam,
 * {@code PEGASUS_FAULT_*}, is the use) are added to this JVM's environment.
 * The repository root comes from the system property {@code pegasus.repoRoot} (set by the pom).
 */
final class TestServer implements AutoCloseable {
  private static final Pattern PORT = Pattern.compile("\"event\"\\s*:\\s*\"listening\".*\"port\"\\s*:\\s*(\\d+)");
  private static final long START_TIMEOUT_MILLIS = 20_000;

  private final Process process;
  private final Path dataDir;
  private boolean ownsDataDir;
  private final List<String> extraArgs;
  private final Map<String, String> extraEnv;
  private final int port;
  private final StringBuffer stderr;

  private TestServer(Process process, Path dataDir, boolean ownsDataDir, List<String> extraArgs,
      Map<String, String> extraEnv, int port, StringBuffer stderr) {
    this.process = process;
    this.stderr = stderr;
    this.dataDir = dataDir;
    this.ownsDataDir = ownsDataDir;
    this.extraArgs = extraArgs;
    this.extraEnv = extraEnv;
    this.port = port;
  }

  static Path repoRoot() {
    String p = System.getProperty("pegasus.repoRoot");
    Path root = p != null ? Paths.get(p) : Paths.get("../..");
    return root.toAbsolutePath().normalize();
  }

  /** Starts a server on a free port with a fresh data directory. */
  static TestServer start(String... extraArgs) throws IOException {
    return start(Map.of(), extraArgs);
  }

  /**
   * Starts a server on a free port with a fresh data directory and {@code extraEnv} added to
   * its environment; {@link #restart()} keeps both the arguments and the variables.
   */
  static TestServer start(Map<String, String> extraEnv, String... extraArgs) throws IOException {
    return start(Files.createTempDirectory("pegasus-test-"), true, 0, List.of(extraArgs), Map.copyOf(extraEnv));
  }

  private static TestServer start(Path dataDir, boolean ownsDataDir, int port, List<String> extraArgs,
      Map<String, String> extraEnv) throws IOException {
    Path root = repoRoot();
    Path bin = root.resolve("shuffle-server/bin/pegasus-server.js");
    if (!Files.exists(root.resolve("dist/shuffle-server/src/main.js"))) {
      throw new IllegalStateException("server not built: run `npm run build` in " + root);
    }
    List<String> cmd = new ArrayList<>(List.of("node", bin.toString(), "--port", Integer.toString(port), "--data-dir",
        dataDir.toString(), "--log-level", "warn"));
    cmd.addAll(extraArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile());
    pb.environment().putAll(extraEnv);
    Process proc = pb.start();
    CompletableFuture<Integer> listening = new CompletableFuture<>();
    StringBuffer err = new StringBuffer();
    Thread out = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          Matcher m = PORT.matcher(line);
          if (m.find()) listening.complete(Integer.parseInt(m.group(1)));
        }
      } catch (IOException e) {
        // process gone
      }
      listening.completeExceptionally(new IllegalStateException("server exited before listening"));
    }, "test-server-stdout");
    out.setDaemon(true);
    out.start();
    drain(proc.getErrorStream(), err);
    int actual;
    try {
      actual = listening.get(START_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      proc.destroyForcibly();
      throw new IllegalStateException("server did not start: " + e + "\nstderr:\n" + err, e);
    }
    return new TestServer(proc, dataDir, ownsDataDir, List.copyOf(extraArgs), extraEnv, actual, err);
  }

  private static void drain(InputStream in, StringBuffer into) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[8192];
      try {
        int n;
        while ((n = in.read(buf)) > 0) {
          if (into.length() < 1_000_000) into.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        }
      } catch (IOException e) {
        // process gone
      }
    }, "test-server-stderr");
    t.setDaemon(true);
    t.start();
  }

  String address() {
    return "127.0.0.1:" + port;
  }

  int port() {
    return port;
  }

  Path dataDir() {
    return dataDir;
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** SIGTERM (graceful stop); waits for the exit. */
  void stop() {
    if (!process.isAlive()) return;
    process.destroy();
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** SIGKILL; waits for the exit. */
  void kill() {
    process.destroyForcibly();
    try {
      process.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Stops this server (if running) and starts a new one on the same port and data
   * directory; the new one takes over the directory (close it, not this one).
   */
  TestServer restart() throws IOException {
    stop();
    IOException last = null;
    for (int i = 0; i < 20; i++) {
      try {
        TestServer next = start(dataDir, ownsDataDir, port, extraArgs, extraEnv);
        ownsDataDir = false;
        return next;
      } catch (IllegalStateException e) {
        last = new IOException(e);
        try {
          Thread.sleep(250);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    throw last;
  }

  String stderr() {
    return stderr.toString();
  }

  @Override
  public void close() {
    stop();
    if (ownsDataDir) deleteTree(dataDir);
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir)) return;
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      // best effort
    }
  }
}
