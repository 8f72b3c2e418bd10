package io.pegasus.spark.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Pegasus server: {@code node shuffle-server/bin/pegasus-server.js --port 0}, the port read
 * from its {@code {"event":"listening",...,"port":N}} line on stdout. Its stderr (and the rest
 * of stdout) go to a log file. {@link #close()} sends SIGTERM, then SIGKILL after 10 s.
 */
final class PegasusServer implements AutoCloseable {
  private static final Pattern PORT = Pattern.compile("\"port\"\\s*:\\s*(\\d+)");

  final Process process;
  final int port;
  final Path dataDir;
  final Path log;

  private PegasusServer(Process process, int port, Path dataDir, Path log) {
    this.process = process;
    this.port = port;
    this.dataDir = dataDir;
    this.log = log;
  }

  /** host:port as spark.pegasus.servers wants it. */
  String address() {
    return "127.0.0.1:" + port;
  }

  static PegasusServer start(Path repo, Path dataDir, Path log) throws IOException {
    return start(repo, dataDir, log, List.of(), Map.of());
  }

  static PegasusServer start(Path repo, Path dataDir, Path log, List<String> launcher) throws IOException {
    return start(repo, dataDir, log, launcher, Map.of());
  }

  /**
   * As {@link #start(Path, Path, Path)}, with the node command prefixed by {@code launcher}
   * (e.g. {@code taskset -c 1}: the launcher must exec node, so that the process is the server's)
   * and {@code env} added to its environment (the server's fault seam, {@code PEGASUS_FAULT_*}).
   */
  static PegasusServer start(Path repo, Path dataDir, Path log, List<String> launcher, Map<String, String> env)
      throws IOException {
    Path entry = repo.resolve("shuffle-server/bin/pegasus-server.js");
    Path built = repo.resolve("dist/shuffle-server/src/main.js");
    if (!Files.isRegularFile(built)) {
      throw new IOException(built + " is missing: run `npm run build` (or scripts/setup.sh) at " + repo);
    }
    Files.createDirectories(dataDir);
    String node = System.getenv().getOrDefault("PEGASUS_NODE", "node");
    List<String> command = new ArrayList<>(launcher);
    command.addAll(List.of(node, entry.toString(), "--port", "0", "--data-dir", dataDir.toString(), "--log-level", "warn"));
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().putAll(env);
    pb.redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Process p = pb.start();
    PrintStream logOut = new PrintStream(new FileOutputStream(log.toFile(), true), true, StandardCharsets.UTF_8);
    CompletableFuture<Integer> port = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          logOut.println(line);
          if (!port.isDone() && line.contains("\"listening\"")) {
            Matcher m = PORT.matcher(line);
            if (m.find()) port.complete(Integer.parseInt(m.group(1)));
          }
        }
      } catch (IOException e) {
        port.completeExceptionally(e);
      } finally {
        port.completeExceptionally(new IOException("pegasus-server exited before listening (see " + log + ")"));
        logOut.close();
      }
    }, "pegasus-server-stdout");
    reader.setDaemon(true);
    reader.start();
    try {
      return new PegasusServer(p, port.get(30, TimeUnit.SECONDS), dataDir, log);
    } catch (TimeoutException e) {
      p.destroyForcibly();
      throw new IOException("pegasus-server printed no listening line in 30 s (see " + log + ")");
    } catch (Exception e) {
      p.destroyForcibly();
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IOException("pegasus-server did not start: " + cause.getMessage(), cause);
    }
  }

  @Override
  public void close() {
    process.destroy(); // SIGTERM
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
