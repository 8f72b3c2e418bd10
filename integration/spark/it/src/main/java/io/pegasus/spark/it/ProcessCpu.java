package io.pegasus.spark.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;

/**
 * CPU seconds (user + system) of the benchmark's processes, from /proc/PID/stat (Linux): the
 * driver JVM (this process), the executor JVMs (its other descendants: local-cluster's workers
 * start them as child processes) and the Pegasus server. A snapshot per process; the
 * difference of two snapshots is what each component spent in between. An executor that dies
 * in between takes its CPU time with it (its last reading is kept).
 */
final class ProcessCpu {
  /** Clock ticks per second of /proc's utime and stime; 100 on every Linux this runs on, checked at start. */
  private static final long TICKS_PER_SECOND = ticksPerSecond();

  private final long serverPid;
  private final Map<Long, Double> start = new HashMap<>();
  private final Map<Long, Double> last = new HashMap<>();

  ProcessCpu(long serverPid) {
    this.serverPid = serverPid;
  }

  /** Starts a measurement: remembers every process's CPU seconds so far. */
  void begin() {
    start.clear();
    last.clear();
    sample(start);
    last.putAll(start);
  }

  /** Reads the processes again (call it at the end; calling it in between keeps dying executors' time). */
  void sample() {
    sample(last);
  }

  /** {driver, executors, server} CPU seconds since begin(), as a JSON object. */
  String json() {
    double driver = 0;
    double executors = 0;
    double server = 0;
    long self = ProcessHandle.current().pid();
    for (Map.Entry<Long, Double> e : last.entrySet()) {
      double d = e.getValue() - start.getOrDefault(e.getKey(), 0.0);
      long pid = e.getKey();
      if (pid == self) driver += d;
      else if (pid == serverPid) server += d;
      else executors += d;
    }
    return String.format(java.util.Locale.ROOT, "{\"driver\":%.2f,\"executors\":%.2f,\"server\":%.2f}", driver, executors,
        server);
  }

  private void sample(Map<Long, Double> into) {
    ProcessHandle self = ProcessHandle.current();
    read(self.pid(), into);
    self.descendants().forEach(p -> read(p.pid(), into));
  }

  private static void read(long pid, Map<Long, Double> into) {
    Path stat = Paths.get("/proc", Long.toString(pid), "stat");
    try {
      String s = new String(Files.readAllBytes(stat), StandardCharsets.US_ASCII);
      // Fields after the command name (which may hold spaces) start at field 3, "state".
      String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime (14), stime (15)
      into.put(pid, ticks / (double) TICKS_PER_SECOND);
    } catch (IOException | RuntimeException e) {
      // The process ended between listing and reading: keep what an earlier sample saw.
    }
  }

  private static long ticksPerSecond() {
    try {
      Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
      p.waitFor();
      return Long.parseLong(out);
    } catch (IOException | RuntimeException e) {
      return 100;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 100;
    }
  }
}
