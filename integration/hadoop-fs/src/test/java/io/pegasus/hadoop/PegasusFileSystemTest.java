package io.pegasus.hadoop;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import io.pegasus.client.ClientOptions;
import io.pegasus.client.Connection;
import io.pegasus.client.Namespace;
import io.pegasus.client.PathOwner;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.StreamCapabilities;
import org.junit.After;
import org.junit.AfterClass;
import org.junit.Before;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * pegasus:// beyond Hadoop's contract suites, against real servers: buffered and
 * positioned reads of a multi-chunk file, the behaviour contract/pegasus.xml declares but
 * Hadoop's suites do not exercise (atomic rename and delete, case-sensitive names), no
 * hflush, pinned readers, connections opened again, and two servers owning different
 * top-level directories.
 */
public class PegasusFileSystemTest {
  private static TestServer server;
  private static TestServer second;
  private FileSystem fs;

  @BeforeClass
  public static void startServers() throws IOException {
    server = TestServer.start();
    second = TestServer.start();
  }

  @AfterClass
  public static void stopServers() {
    if (server != null) server.close();
    if (second != null) second.close();
  }

  private static Configuration conf() {
    Configuration conf = new Configuration(false);
    conf.set(PegasusConfigKeys.IMPL, PegasusFileSystem.class.getName());
    conf.setBoolean("fs.pegasus.impl.disable.cache", true);
    // Small chunks and buffer: a few MiB make many appends and many buffer fills.
    conf.setLong(PegasusConfigKeys.WRITE_CHUNK_BYTES.name, 64 * 1024);
    conf.setLong(PegasusConfigKeys.READ_BUFFER_BYTES.name, 100_000);
    conf.setLong(PegasusConfigKeys.REQUEST_TIMEOUT_MS.name, 30_000);
    return conf;
  }

  @Before
  public void open() throws IOException {
    fs = FileSystem.newInstance(URI.create("pegasus://" + server.address() + "/"), conf());
  }

  @After
  public void close() throws IOException {
    if (fs != null) fs.close();
  }

  private static byte[] random(long seed, int n) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static void write(FileSystem fs, Path p, byte[] data) throws IOException {
    try (FSDataOutputStream out = fs.create(p, true)) {
      Random r = new Random(data.length);
      int at = 0;
      while (at < data.length) {
        int n = Math.min(data.length - at, r.nextInt(3) == 0 ? 1 : 1 + r.nextInt(200_000));
        if (n == 1) {
          out.write(data[at] & 0xff);
        } else {
          out.write(data, at, n);
        }
        at += n;
      }
    }
  }

  @Test
  public void multiChunkFileReadsBackThroughBufferedSequentialAndPositionedReads() throws Exception {
    byte[] data = random(1, 3 * 1024 * 1024 + 777);
    Path p = new Path("/fs-test/big/data.bin");
    write(fs, p, data);
    FileStatus st = fs.getFileStatus(p);
    assertEquals(data.length, st.getLen());
    assertTrue(st.isFile());
    assertEquals(fs.getDefaultBlockSize(p), st.getBlockSize());
    assertEquals(new Path("pegasus://" + server.address() + "/fs-test/big/data.bin"), st.getPath());

    try (FSDataInputStream in = fs.open(p)) {
      // Sequential: single bytes, short reads (buffer fills), long reads (straight into the array).
      byte[] got = new byte[data.length];
      int at = 0;
      Random r = new Random(2);
      while (at < data.length) {
        int kind = r.nextInt(3);
        if (kind == 0) {
          int b = in.read();
          assertTrue(b >= 0);
          got[at++] = (byte) b;
        } else {
          int want = kind == 1 ? 1 + r.nextInt(5000) : 100_000 + r.nextInt(300_000);
          int n = in.read(got, at, Math.min(want, data.length - at));
          assertTrue(n > 0);
          at += n;
        }
        assertEquals(at, in.getPos());
      }
      assertEquals(-1, in.read());
      assertArrayEquals(data, got);

      // Positioned reads do not move the position.
      in.seek(1234);
      byte[] range = new byte[500_000];
      in.readFully(2_000_000, range);
      assertArrayEquals(Arrays.copyOfRange(data, 2_000_000, 2_500_000), range);
      assertEquals(1234, in.getPos());
      byte[] small = new byte[10];
      assertEquals(10, in.read(1240, small, 0, 10)); // from the buffer filled at 1234
      assertArrayEquals(Arrays.copyOfRange(data, 1240, 1250), small);
      assertEquals(data[1234], (byte) in.read());
      assertEquals(5, in.read(data.length - 5, small, 0, 10));
      assertThrows(java.io.EOFException.class, () -> in.readFully(data.length - 5, new byte[10]));
    }
    assertTrue(fs.getFileStatus(p.getParent()).isDirectory());
  }

  @Test
  public void namesAreCaseSensitive() throws Exception {
    write(fs, new Path("/fs-test/case/Name"), new byte[] {1});
    write(fs, new Path("/fs-test/case/name"), new byte[] {2, 2});
    assertEquals(1, fs.getFileStatus(new Path("/fs-test/case/Name")).getLen());
    assertEquals(2, fs.getFileStatus(new Path("/fs-test/case/name")).getLen());
    assertFalse(fs.exists(new Path("/fs-test/case/NAME")));
    assertEquals(2, fs.listStatus(new Path("/fs-test/case")).length);
  }

  /** Renames a directory of many files back and forth while another file system instance lists its parent. */
  @Test
  public void renameOfADirectoryIsAtomicToAConcurrentObserver() throws Exception {
    int files = 40;
    Path base = new Path("/fs-test/atomic-rename");
    Path a = new Path(base, "a");
    Path b = new Path(base, "b");
    for (int i = 0; i < files; i++) write(fs, new Path(a, "sub/f" + i), new byte[] {(byte) i});
    AtomicBoolean done = new AtomicBoolean();
    AtomicInteger observations = new AtomicInteger();
    CompletableFuture<Void> observer;
    try (FileSystem other = FileSystem.newInstance(fs.getUri(), conf())) {
      observer = CompletableFuture.runAsync(() -> {
        try {
          while (!done.get() || observations.get() == 0) {
            // One ListDir each: a snapshot before or after a rename, never between.
            FileStatus[] names = other.listStatus(base);
            assertEquals(Arrays.toString(names), 1, names.length);
            String name = names[0].getPath().getName();
            assertTrue(name, name.equals("a") || name.equals("b"));
            try {
              assertEquals(files, other.listStatus(new Path(base, name + "/sub")).length);
            } catch (FileNotFoundException moved) {
              // renamed since the parent was listed: fine
            }
            observations.incrementAndGet();
          }
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      });
      for (int round = 0; round < 30; round++) {
        assertTrue(fs.rename(round % 2 == 0 ? a : b, round % 2 == 0 ? b : a));
      }
      done.set(true);
      observer.get(60, TimeUnit.SECONDS);
    }
    assertTrue(observations.get() > 0);
    assertEquals(files, fs.listStatus(new Path(a, "sub")).length);
  }

  /** Deletes a tree while another instance lists it: it sees all of it or none. */
  @Test
  public void recursiveDeleteIsAtomicToAConcurrentObserver() throws Exception {
    int files = 30;
    Path dir = new Path("/fs-test/atomic-delete/t");
    try (FileSystem other = FileSystem.newInstance(fs.getUri(), conf())) {
      for (int round = 0; round < 5; round++) {
        for (int i = 0; i < files; i++) write(fs, new Path(dir, "f" + i), new byte[i]);
        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger full = new AtomicInteger();
        CompletableFuture<Void> observer = CompletableFuture.runAsync(() -> {
          try {
            while (!done.get()) {
              try {
                int n = other.listStatus(dir).length;
                assertEquals(files, n);
                full.incrementAndGet();
              } catch (FileNotFoundException gone) {
                return;
              }
            }
          } catch (IOException e) {
            throw new RuntimeException(e);
          }
        });
        assertTrue(fs.delete(dir, true));
        done.set(true);
        observer.get(60, TimeUnit.SECONDS);
        assertFalse(other.exists(dir));
        assertFalse(other.exists(new Path(dir, "f0")));
      }
    }
  }

  @Test
  public void outputStreamOffersNoHflushOrHsyncAndPublishesOnlyAtClose() throws Exception {
    Path p = new Path("/fs-test/sync/f");
    FSDataOutputStream out = fs.create(p, true);
    assertFalse(out.hasCapability(StreamCapabilities.HFLUSH));
    assertFalse(out.hasCapability(StreamCapabilities.HSYNC));
    out.write(new byte[] {1, 2, 3});
    out.hflush(); // downgraded to flush(): sends nothing, publishes nothing
    out.hsync();
    assertFalse(fs.exists(p));
    out.close();
    assertEquals(3, fs.getFileStatus(p).getLen());
    out.close(); // idempotent
    assertThrows(IOException.class, () -> out.write(4));
    assertThrows(UnsupportedOperationException.class, () -> fs.append(p));
  }

  @Test
  public void closeFailsAndPublishesNothingWhenThePathWasTakenMeanwhile() throws Exception {
    Path p = new Path("/fs-test/taken/x");
    FSDataOutputStream out = fs.create(p, false);
    out.write(random(3, 1000));
    assertTrue(fs.mkdirs(p));
    assertThrows(FileAlreadyExistsException.class, out::close);
    assertTrue(fs.getFileStatus(p).isDirectory());
  }

  @Test
  public void openFileIsPinnedAndFailsAfterAReplaceInsteadOfReadingTheNewBytes() throws Exception {
    Path p = new Path("/fs-test/pinned/f");
    byte[] first = random(4, 300_000);
    write(fs, p, first);
    try (FSDataInputStream in = fs.open(p)) {
      assertEquals(first[0], (byte) in.read()); // fills the buffer from 0
      write(fs, p, random(5, 300_000));
      assertEquals(first[1], (byte) in.read()); // still from the buffer
      byte[] b = new byte[10];
      assertThrows(FileNotFoundException.class, () -> in.readFully(250_000, b));
    }
  }

  @Test
  public void callsAndOpenStreamsGoOnOverANewConnectionAfterTheirsWasLost() throws Exception {
    Path p = new Path("/fs-test/reconnect/f");
    byte[] data = random(6, 250_000);
    write(fs, p, data);
    PegasusFileSystem pfs = (PegasusFileSystem) fs;
    try (FSDataInputStream in = fs.open(p)) {
      byte[] head = new byte[10];
      in.readFully(0, head);
      Connection first = pfs.servers().connection(0);
      first.close();
      assertFalse(first.isOpen());
      byte[] tail = new byte[200_000];
      in.readFully(50_000, tail); // repeated once on a new connection, same pinned file
      assertArrayEquals(Arrays.copyOfRange(data, 50_000, 250_000), tail);
      pfs.servers().connection(0).close();
      assertEquals(data.length, fs.getFileStatus(p).getLen());
      assertNotEquals(first, pfs.servers().connection(0));
    }
  }

  /** A top-level directory name owned by server {@code index} of two. */
  private static String topLevelOwnedBy(int index, String prefix) throws Exception {
    for (int i = 0;; i++) {
      if (PathOwner.ownerIndex("/" + prefix + i, 2) == index) return prefix + i;
    }
  }

  @Test
  public void twoServersEachHoldTheTopLevelDirectoriesTheirIndexOwns() throws Exception {
    Configuration conf = conf();
    conf.set(PegasusConfigKeys.SERVERS.name, server.address() + "," + second.address());
    String onFirst = topLevelOwnedBy(0, "multi-");
    String onSecond = topLevelOwnedBy(1, "multi-");
    try (FileSystem multi = FileSystem.newInstance(URI.create("pegasus://cluster/"), conf);
        Connection c0 = Connection.open(server.address(), ClientOptions.defaults());
        Connection c1 = Connection.open(second.address(), ClientOptions.defaults())) {
      write(multi, new Path("/" + onFirst + "/d/f"), new byte[] {1, 2});
      write(multi, new Path("/" + onSecond + "/d/f"), new byte[] {3});
      assertTrue(Namespace.exists(c0, "/" + onFirst + "/d/f"));
      assertFalse(Namespace.exists(c1, "/" + onFirst));
      assertTrue(Namespace.exists(c1, "/" + onSecond + "/d/f"));
      assertFalse(Namespace.exists(c0, "/" + onSecond));

      assertEquals(2, multi.getFileStatus(new Path("/" + onFirst + "/d/f")).getLen());
      try (FSDataInputStream in = multi.open(new Path("/" + onSecond + "/d/f"))) {
        assertEquals(3, in.read());
      }
      List<String> top = new ArrayList<>();
      for (FileStatus s : multi.listStatus(new Path("/"))) top.add(s.getPath().getName());
      assertTrue(top.toString(), top.contains(onFirst) && top.contains(onSecond));
      List<String> sorted = new ArrayList<>(top);
      sorted.sort(null);
      assertEquals(sorted, top);

      // Within one top-level directory: atomic on its server. Across servers: refused.
      assertTrue(multi.rename(new Path("/" + onSecond + "/d"), new Path("/" + onSecond + "/e")));
      assertTrue(Namespace.exists(c1, "/" + onSecond + "/e/f"));
      assertThrows(IOException.class, () -> multi.rename(new Path("/" + onFirst + "/d/f"), new Path("/" + onSecond + "/g")));
      assertTrue(multi.exists(new Path("/" + onFirst + "/d/f")));
      assertTrue(multi.delete(new Path("/" + onFirst), true));
      assertFalse(Namespace.exists(c0, "/" + onFirst));
    }
  }

  @Test
  public void configurationErrorsNameTheKey() {
    Configuration conf = conf();
    conf.set(PegasusConfigKeys.SERVERS.name, "no-port");
    IOException e = assertThrows(IOException.class, () -> FileSystem.newInstance(URI.create("pegasus://x:1/"), conf));
    assertTrue(e.getMessage(), e.getMessage().contains("fs.pegasus.servers"));
    Configuration bad = conf();
    bad.setLong(PegasusConfigKeys.WRITE_CHUNK_BYTES.name, 100L * 1024 * 1024);
    IllegalArgumentException i = assertThrows(IllegalArgumentException.class,
        () -> FileSystem.newInstance(URI.create("pegasus://" + server.address() + "/"), bad));
    assertTrue(i.getMessage(), i.getMessage().contains(PegasusConfigKeys.WRITE_CHUNK_BYTES.name));
  }
}
