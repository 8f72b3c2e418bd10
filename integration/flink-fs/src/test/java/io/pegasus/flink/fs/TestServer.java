package io.pegasus.flink.fs;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real pegasus-server process for tests: {@code node shuffle-server/bin/pegasus-server.js
 * --port 0 --data-dir <temp> --log-level warn}, ready once it prints its "listening" line
 * (the same launch as the Java client's tests; a copy of ../hadoop-fs's TestServer, which is not
 * published in a test jar). The repository root comes from the
 * system property {@code pegasus.repoRoot}, set by the pom.
 */
public final class TestServer implements AutoCloseable {
  private static final Pattern PORT = Pattern.compile("\"event\"\\s*:\\s*\"listening\".*\"port\"\\s*:\\s*(\\d+)");
  private static final long START_TIMEOUT_MILLIS = 30_000;

  private final Process process;
  private final Path dataDir;
  private final int port;
  private final StringBuffer stderr;

  private TestServer(Process process, Path dataDir, int port, StringBuffer stderr) {
    this.process = process;
    this.dataDir = dataDir;
    this.port = port;
    this.stderr = stderr;
  }

  static Path repoRoot() {
    String p = System.getProperty("pegasus.repoRoot");
    return (p != null ? Paths.get(p) : Paths.get("../..")).toAbsolutePath().normalize();
  }

  /** Starts a server on a free port with a fresh data directory. */
  public static TestServer start() throws IOException {
    Path root = repoRoot();
    if (!Files.exists(root.resolve("dist/shuffle-server/src/main.js"))) {
      throw new IllegalStateException("server not built: run `npm run build` in " + root);
    }
    Path dataDir = Files.createTempDirectory("pegasus-flink-test-");
    List<String> cmd = new ArrayList<>(List.of("node", root.resolve("shuffle-server/bin/pegasus-server.js").toString(),
        "--port", "0", "--data-dir", dataDir.toString(), "--log-level", "warn"));
    Process proc = new ProcessBuilder(cmd).directory(root.toFile()).start();
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
    try {
      return new TestServer(proc, dataDir, listening.get(START_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS), err);
    } catch (Exception e) {
      proc.destroyForcibly();
      deleteTree(dataDir);
      throw new IllegalStateException("server did not start: " + e + "\nstderr:\n" + err, e);
    }
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

  public String address() {
    return "127.0.0.1:" + port;
  }

  public String stderr() {
    return stderr.toString();
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroy();
      try {
        if (!process.waitFor(15, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    deleteTree(dataDir);
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir)) return;
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort
    }
  }
}
