package io.pegasus.hadoop.bench;

import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.StreamCapabilities;
import org.apache.hadoop.util.NativeCodeLoader;
import org.apache.hadoop.util.VersionInfo;

/**
 * The Hadoop half of the files phase of {@code npm run bench} (issue 11): pegasus:// through
 * the Hadoop FileSystem API against Hadoop's local file systems on the same disk, in one JVM,
 * in one run. Not a test (surefire's includes do not match it); run by
 * {@code scripts/bench-files-hadoop.sh}.
 *
 * <pre>
 *   java -cp &lt;shaded pegasus-hadoop-fs jar&gt;:&lt;Hadoop client jars&gt;:&lt;this class&gt; \
 *     io.pegasus.hadoop.bench.FilesBench --pegasus pegasus://127.0.0.1:PORT/bench --local DIR \
 *     [--bytes N] [--count N] [--threads N] [--conf 'key=value;key=value']
 * </pre>
 *
 * {@code --conf} sets Hadoop configuration keys for every file system (for instance
 * {@code fs.pegasus.read.buffer.bytes}); the run uses the defaults without it.
 *
 * File systems: {@code pegasus} (PegasusFileSystem), {@code local} (LocalFileSystem: checksummed,
 * a .crc file beside every file) and {@code rawLocal} (RawLocalFileSystem: the same without
 * checksums). Each is warmed up first (a small large file and a few small files, untimed: the
 * JIT would otherwise bill the first file system measured), then:
 * <ul>
 *   <li>large: one file of {@code --bytes} (default 2 GiB) written with 1 MiB writes, then
 *       {@code hsync()} and {@code close()}. Pegasus offers no hsync (its close is the durable
 *       point); a local stream that does not declare the {@code hsync} capability only flushes
 *       to the page cache, and the JSON says so ({@code hsyncDurable}). Read back whole with 1 MiB
 *       reads, every byte compared with what was written (the same cost on every side).</li>
 *   <li>small: {@code --count} (default 10,000) files of 4 KiB, each created, written and
 *       closed; the directory listed once ({@code listStatus}); each file opened and read
 *       ({@code readFully}). Once from one thread (what one Hadoop task does) and once from
 *       {@code --threads} threads sharing the FileSystem instance.</li>
 * </ul>
 * Prints one JSON line on stdout: {@code {"bench":"files-hadoop", "hadoopVersion", "hadoopNative"
 * (libhadoop loaded), "largeBytes",
 * "smallCount", "threads", "conf", "fileSystems": {name: {"hsyncDurable", "largeWriteMBps",
 * "largeReadMBps", "smallCreatesPerSec", "smallListPerSec", "smallReadsPerSec",
 * "parallelCreatesPerSec", "parallelReadsPerSec"}}, "ratios": {"vsLocal": {...}, "vsRawLocal":
 * {...}}}}, ratios being Pegasus / baseline of the same measure (above 1: Pegasus faster). MB/s
 * are MiB per second, as in scripts/bench/files.ts. Progress goes to stderr.
 */
public final class FilesBench {
  private static final int MiB = 1024 * 1024;
  private static final int WRITE_BYTES = MiB;
  private static final int SMALL_BYTES = 4096;
  /** Random bytes the large file is cut from, cycled: incompressible, and no RNG in the loop. */
  private static final int POOL_BYTES = 8 * MiB;
  private static final long WARM_UP_LARGE_BYTES = 32L * MiB;
  private static final int WARM_UP_SMALL_COUNT = 300;
  private static final long LARGE_BYTES_MAX = 64L * 1024 * MiB;
  private static final int SMALL_COUNT_MAX = 1_000_000;
  private static final int THREADS_MAX = 256;

  private final byte[] pool = new byte[POOL_BYTES];
  private final byte[] small;
  private final long largeBytes;
  private final int smallCount;
  private final int threads;
  /** The --conf text, reported as given. */
  private final String confText;

  private FilesBench(long largeBytes, int smallCount, int threads, String confText) {
    new Random(11).nextBytes(pool);
    this.small = Arrays.copyOfRange(pool, 0, SMALL_BYTES);
    this.largeBytes = largeBytes;
    this.smallCount = smallCount;
    this.threads = threads;
    this.confText = confText;
  }

  /** What one file system measured. */
  private static final class Result {
    boolean hsyncDurable;
    double largeWriteMBps;
    double largeReadMBps;
    double smallCreatesPerSec;
    double smallListPerSec;
    double smallReadsPerSec;
    double parallelCreatesPerSec;
    double parallelReadsPerSec;

    Map<String, Object> fields() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("hsyncDurable", hsyncDurable);
      m.put("largeWriteMBps", round(largeWriteMBps, 1));
      m.put("largeReadMBps", round(largeReadMBps, 1));
      m.put("smallCreatesPerSec", round(smallCreatesPerSec, 0));
      m.put("smallListPerSec", round(smallListPerSec, 0));
      m.put("smallReadsPerSec", round(smallReadsPerSec, 0));
      m.put("parallelCreatesPerSec", round(parallelCreatesPerSec, 0));
      m.put("parallelReadsPerSec", round(parallelReadsPerSec, 0));
      return m;
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> a = parseArgs(args);
    String pegasusBase = required(a, "--pegasus");
    String localDir = required(a, "--local");
    long bytes = Long.parseLong(a.getOrDefault("--bytes", String.valueOf(2L * 1024 * MiB)));
    int count = Integer.parseInt(a.getOrDefault("--count", "10000"));
    int threads = Integer.parseInt(a.getOrDefault("--threads", "8"));
    if (bytes < WRITE_BYTES || bytes > LARGE_BYTES_MAX) {
      throw new IllegalArgumentException("--bytes " + bytes + ": between " + WRITE_BYTES + " and " + LARGE_BYTES_MAX);
    }
    if (count < 1 || count > SMALL_COUNT_MAX) throw new IllegalArgumentException("--count " + count + ": 1.." + SMALL_COUNT_MAX);
    if (threads < 1 || threads > THREADS_MAX) throw new IllegalArgumentException("--threads " + threads + ": 1.." + THREADS_MAX);

    Configuration conf = new Configuration();
    for (String kv : a.getOrDefault("--conf", "").split(";")) {
      if (kv.isBlank()) continue;
      int eq = kv.indexOf('=');
      if (eq <= 0) throw new IllegalArgumentException("--conf " + kv + ": key=value");
      conf.set(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
    }
    FilesBench bench = new FilesBench(bytes, count, threads, a.getOrDefault("--conf", ""));
    Map<String, Result> results = new LinkedHashMap<>();
    Path local = new Path(new java.io.File(localDir).getAbsoluteFile().toURI());
    try (FileSystem checksummed = FileSystem.newInstanceLocal(conf);
         RawLocalFileSystem raw = new RawLocalFileSystem();
         FileSystem pegasus = FileSystem.newInstance(URI.create(pegasusBase), conf)) {
      raw.initialize(URI.create("file:///"), conf);
      // Local first, as scripts/bench/files.ts does; each side deletes what it wrote before the next.
      results.put("local", bench.measure("local", checksummed, new Path(local, "local")));
      results.put("rawLocal", bench.measure("rawLocal", raw, new Path(local, "raw-local")));
      results.put("pegasus", bench.measure("pegasus", pegasus, new Path(URI.create(pegasusBase))));
    }
    System.out.println(bench.json(results));
  }

  private Result measure(String name, FileSystem fs, Path base) throws Exception {
    log(name + ": warming up on " + base);
    fs.delete(base, true);
    fs.mkdirs(base);
    Path warm = new Path(base, "warm-up");
    writeLarge(fs, new Path(warm, "large"), WARM_UP_LARGE_BYTES);
    readLarge(fs, new Path(warm, "large"), WARM_UP_LARGE_BYTES);
    createSmall(fs, new Path(warm, "small"), WARM_UP_SMALL_COUNT, 1);
    listSmall(fs, new Path(warm, "small"), WARM_UP_SMALL_COUNT);
    readSmall(fs, new Path(warm, "small"), WARM_UP_SMALL_COUNT, 1);
    fs.delete(warm, true);

    Result r = new Result();
    Path large = new Path(base, "large");
    log(name + ": large write, " + largeBytes + " bytes");
    long t = System.nanoTime();
    r.hsyncDurable = writeLarge(fs, large, largeBytes);
    r.largeWriteMBps = largeBytes / (double) MiB / seconds(t);
    log(name + ": large read");
    t = System.nanoTime();
    readLarge(fs, large, largeBytes);
    r.largeReadMBps = largeBytes / (double) MiB / seconds(t);
    fs.delete(large, false);

    Path one = new Path(base, "small-1");
    log(name + ": " + smallCount + " small files, one thread");
    t = System.nanoTime();
    createSmall(fs, one, smallCount, 1);
    r.smallCreatesPerSec = smallCount / seconds(t);
    t = System.nanoTime();
    listSmall(fs, one, smallCount);
    r.smallListPerSec = smallCount / seconds(t);
    t = System.nanoTime();
    readSmall(fs, one, smallCount, 1);
    r.smallReadsPerSec = smallCount / seconds(t);
    fs.delete(one, true);

    Path many = new Path(base, "small-" + threads);
    log(name + ": " + smallCount + " small files, " + threads + " threads");
    t = System.nanoTime();
    createSmall(fs, many, smallCount, threads);
    r.parallelCreatesPerSec = smallCount / seconds(t);
    t = System.nanoTime();
    readSmall(fs, many, smallCount, threads);
    r.parallelReadsPerSec = smallCount / seconds(t);
    fs.delete(base, true);
    log(name + ": " + r.fields());
    return r;
  }

  /** Returns whether hsync() made the bytes durable (the stream declares the capability). */
  private boolean writeLarge(FileSystem fs, Path p, long bytes) throws IOException {
    boolean durable;
    try (FSDataOutputStream out = fs.create(p, true)) {
      for (long done = 0; done < bytes; done += WRITE_BYTES) {
        int off = (int) (done % POOL_BYTES);
        out.write(pool, off, (int) Math.min(WRITE_BYTES, bytes - done));
      }
      durable = out.hasCapability(StreamCapabilities.HSYNC);
      out.hsync();
    }
    return durable;
  }

  private void readLarge(FileSystem fs, Path p, long bytes) throws IOException {
    byte[] buf = new byte[WRITE_BYTES];
    long done = 0;
    try (FSDataInputStream in = fs.open(p)) {
      while (true) {
        // Fill buf whole (or up to the end), so that each piece lines up with one 1 MiB write.
        int got = 0;
        int want = (int) Math.min(WRITE_BYTES, bytes - done);
        while (got < want) {
          int n = in.read(buf, got, want - got);
          if (n < 0) break;
          got += n;
        }
        if (got == 0) {
          if (in.read() >= 0) throw new IOException(p + ": longer than the " + bytes + " bytes written");
          break;
        }
        int off = (int) (done % POOL_BYTES);
        if (!Arrays.equals(buf, 0, got, pool, off, off + got)) {
          throw new IOException(p + ": bytes differ from those written in [" + done + ", " + (done + got) + ")");
        }
        done += got;
      }
    }
    if (done != bytes) throw new IOException(p + ": read " + done + " bytes of " + bytes);
  }

  private void createSmall(FileSystem fs, Path dir, int count, int threadCount) throws Exception {
    fs.mkdirs(dir);
    forEach(count, threadCount, i -> {
      try (FSDataOutputStream out = fs.create(smallPath(dir, i), false)) {
        out.write(small);
      }
    });
  }

  private static void listSmall(FileSystem fs, Path dir, int count) throws IOException {
    FileStatus[] listed = fs.listStatus(dir);
    if (listed.length != count) throw new IOException(dir + ": listed " + listed.length + " entries of " + count);
  }

  private void readSmall(FileSystem fs, Path dir, int count, int threadCount) throws Exception {
    forEach(count, threadCount, i -> {
      byte[] buf = new byte[SMALL_BYTES];
      try (FSDataInputStream in = fs.open(smallPath(dir, i))) {
        in.readFully(buf);
        if (in.read() >= 0) throw new IOException(smallPath(dir, i) + ": longer than " + SMALL_BYTES + " bytes");
      }
      if (!Arrays.equals(buf, small)) throw new IOException(smallPath(dir, i) + ": bytes differ from those written");
    });
  }

  private static Path smallPath(Path dir, int i) {
    return new Path(dir, String.format(Locale.ROOT, "o%06d", i));
  }

  private interface Op {
    void run(int i) throws IOException;
  }

  /** Runs op(0..count-1) on threadCount threads, each taking the next index; the first failure is thrown. */
  private static void forEach(int count, int threadCount, Op op) throws Exception {
    if (threadCount == 1) {
      for (int i = 0; i < count; i++) op.run(i);
      return;
    }
    AtomicInteger next = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(threadCount);
    try {
      List<Future<?>> workers = new ArrayList<>();
      for (int w = 0; w < threadCount; w++) {
        workers.add(pool.submit(() -> {
          for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) op.run(i);
          return null;
        }));
      }
      for (Future<?> f : workers) f.get();
    } finally {
      pool.shutdownNow();
    }
  }

  private String json(Map<String, Result> results) {
    Map<String, Object> top = new LinkedHashMap<>();
    top.put("bench", "files-hadoop");
    top.put("hadoopVersion", VersionInfo.getVersion());
    // Without libhadoop, every local create runs `chmod` in a child process (RawLocalFileSystem
    // setPermission): that, not the disk, bounds the local small-file creates then.
    top.put("hadoopNative", NativeCodeLoader.isNativeCodeLoaded());
    top.put("largeBytes", largeBytes);
    top.put("smallCount", smallCount);
    top.put("threads", threads);
    top.put("conf", confText);
    Map<String, Object> fss = new LinkedHashMap<>();
    results.forEach((k, v) -> fss.put(k, v.fields()));
    top.put("fileSystems", fss);
    Map<String, Object> ratios = new LinkedHashMap<>();
    ratios.put("vsLocal", ratios(results.get("pegasus"), results.get("local")));
    ratios.put("vsRawLocal", ratios(results.get("pegasus"), results.get("rawLocal")));
    top.put("ratios", ratios);
    return toJson(top);
  }

  private static Map<String, Object> ratios(Result p, Result base) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("largeWrite", round(p.largeWriteMBps / base.largeWriteMBps, 3));
    m.put("largeRead", round(p.largeReadMBps / base.largeReadMBps, 3));
    m.put("smallCreates", round(p.smallCreatesPerSec / base.smallCreatesPerSec, 3));
    m.put("smallList", round(p.smallListPerSec / base.smallListPerSec, 3));
    m.put("smallReads", round(p.smallReadsPerSec / base.smallReadsPerSec, 3));
    m.put("parallelCreates", round(p.parallelCreatesPerSec / base.parallelCreatesPerSec, 3));
    m.put("parallelReads", round(p.parallelReadsPerSec / base.parallelReadsPerSec, 3));
    return m;
  }

  @SuppressWarnings("unchecked")
  private static String toJson(Object v) {
    if (v instanceof Map) {
      StringBuilder b = new StringBuilder("{");
      for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
        if (b.length() > 1) b.append(',');
        b.append('"').append(e.getKey()).append("\":").append(toJson(e.getValue()));
      }
      return b.append('}').toString();
    }
    if (v instanceof String) return "\"" + ((String) v).replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    if (v instanceof Double) {
      double d = (Double) v;
      if (!Double.isFinite(d)) return "null";
      return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.valueOf((long) d) : String.valueOf(d);
    }
    return String.valueOf(v);
  }

  private static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  private static void log(String line) {
    System.err.println("files-bench: " + line);
  }

  private static Map<String, String> parseArgs(String[] args) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i += 2) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) throw new IllegalArgumentException("expected --name value pairs, got " + Arrays.toString(args));
      m.put(args[i], args[i + 1]);
    }
    return m;
  }

  private static String required(Map<String, String> a, String key) {
    String v = a.get(key);
    if (v == null) throw new IllegalArgumentException(key + " is required");
    return v;
  }
}
