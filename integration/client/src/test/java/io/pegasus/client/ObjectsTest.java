package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import pegasus.wire.ErrorCode;

/** Objects (FRAMING.md "Objects") through the Java client against a real server: writer, pinned reader, namespace. */
class ObjectsTest {
  private static TestServer server;
  private static Connection conn;
  private static Connection other;
  private static final ClientOptions OPTS = ClientOptions.defaults().withRequestTimeoutMillis(30_000)
      .withReadCreditBytes(256 * 1024);

  @BeforeAll
  static void startServer() throws Exception {
    server = TestServer.start();
    conn = Connection.open(server.address(), OPTS);
    other = Connection.open(server.address(), OPTS);
  }

  @AfterAll
  static void stopServer() {
    if (conn != null) conn.close();
    if (other != null) other.close();
    if (server != null) server.close();
  }

  private static byte[] random(long seed, int n) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static PathInfo write(String path, byte[] data, ObjectWriter.Options o) throws PegasusException {
    ObjectWriter w = ObjectWriter.create(conn, path, o);
    // Uneven writes, so chunks are filled across calls.
    int at = 0;
    Random r = new Random(data.length);
    while (at < data.length) {
      int n = Math.min(data.length - at, 1 + r.nextInt(100_000));
      w.write(data, at, n);
      at += n;
    }
    assertEquals(data.length, w.length());
    return w.close();
  }

  private static PegasusException failsWith(int code, ThrowingCall call) {
    PegasusException e = assertThrows(PegasusException.class, call::run);
    assertEquals(PegasusException.codeName(code), e.codeName(), e.getMessage());
    return e;
  }

  @FunctionalInterface
  interface ThrowingCall {
    void run() throws Exception;
  }

  @Test
  void pipelinedChunkedWriteReadsBackByteForByteAtEveryRange() throws Exception {
    byte[] data = random(1, 3 * 1024 * 1024 + 12_345);
    // 64 KiB chunks, 4 in flight: about 50 appends, pipelined within the push window.
    PathInfo info = write("/objects-test/big.bin", data,
        ObjectWriter.Options.defaults().withChunkBytes(64 * 1024).withAppendsInFlight(4));
    assertEquals("/objects-test/big.bin", info.name());
    assertTrue(info.isFile());
    assertEquals(data.length, info.length());
    assertTrue(info.id() != 0);

    ObjectReader r = ObjectReader.open(other, "/objects-test/big.bin");
    assertEquals(info.id(), r.info().id());
    assertArrayEquals(data, r.read(0, data.length)); // many ReadData blocks, several credit grants
    long[][] ranges = {{0, 1}, {1, 1000}, {262_143, 2}, {262_144, 262_144}, {data.length - 10, 10}, {1_000_000, 1_500_000}};
    for (long[] g : ranges) {
      byte[] got = r.read(g[0], (int) g[1]);
      assertArrayEquals(Arrays.copyOfRange(data, (int) g[0], (int) (g[0] + g[1])), got, "range " + g[0] + "+" + g[1]);
    }
    // Cut at the end; nothing at or past it.
    assertArrayEquals(Arrays.copyOfRange(data, data.length - 5, data.length), r.read(data.length - 5, 100));
    assertEquals(0, r.read(data.length, 10).length);
    assertEquals(0, r.read(data.length + 100, new byte[10], 0, 10));
    // Into the middle of a caller's array.
    byte[] buf = new byte[100];
    assertEquals(50, r.read(777, buf, 25, 50));
    assertArrayEquals(Arrays.copyOfRange(data, 777, 827), Arrays.copyOfRange(buf, 25, 75));
  }

  @Test
  void nothingIsVisibleBeforeCloseAndEverythingAfter() throws Exception {
    ObjectWriter w = ObjectWriter.create(conn, "/objects-test/close-to-open/f", ObjectWriter.Options.defaults()
        .withChunkBytes(1024));
    w.write(random(2, 10_000), 0, 10_000);
    failsWith(ErrorCode.NOT_FOUND, () -> other.statPath("/objects-test/close-to-open/f"));
    assertFalse(Namespace.exists(other, "/objects-test/close-to-open"), "parents appear with the close");
    PathInfo info = w.close();
    assertEquals(10_000, info.length());
    PathInfo seen = other.statPath("/objects-test/close-to-open/f");
    assertEquals(info.id(), seen.id());
    assertEquals(10_000, seen.length());
    assertTrue(other.statPath("/objects-test/close-to-open").isDirectory());
    failsWith(ErrorCode.INVALID_ARGUMENT, () -> w.write(1));
  }

  @Test
  void emptyFileHasLengthZeroAndReadsNothing() throws Exception {
    PathInfo info = ObjectWriter.create(conn, "/objects-test/empty").close();
    assertEquals(0, info.length());
    ObjectReader r = ObjectReader.open(conn, "/objects-test/empty");
    assertEquals(0, r.read(0, 10).length);
  }

  @Test
  void abortedWriterLeavesNothingAndFreesThePath() throws Exception {
    ObjectWriter w = ObjectWriter.create(conn, "/objects-test/aborted", ObjectWriter.Options.defaults().withChunkBytes(4096));
    w.write(random(3, 20_000), 0, 20_000);
    w.abort();
    w.abort(); // idempotent
    failsWith(ErrorCode.NOT_FOUND, () -> conn.statPath("/objects-test/aborted"));
    failsWith(ErrorCode.INVALID_ARGUMENT, () -> w.close());
    // One writer per path: the aborted one no longer holds it.
    assertEquals(3, write("/objects-test/aborted", new byte[] {1, 2, 3}, ObjectWriter.Options.defaults()).length());
  }

  @Test
  void overwriteReplacesAndPinnedReaderNeverReadsTheNewFile() throws Exception {
    byte[] first = random(4, 5000);
    byte[] second = random(5, 7000);
    write("/objects-test/ow", first, ObjectWriter.Options.defaults());
    failsWith(ErrorCode.ALREADY_EXISTS, () -> ObjectWriter.create(conn, "/objects-test/ow"));
    ObjectReader pinned = ObjectReader.open(conn, "/objects-test/ow");
    assertArrayEquals(first, pinned.read(0, 5000));

    // A second writer of the same path is refused while the first writes.
    ObjectWriter w = ObjectWriter.create(conn, "/objects-test/ow", ObjectWriter.Options.defaults().withOverwrite(true));
    failsWith(ErrorCode.ALREADY_EXISTS,
        () -> ObjectWriter.create(other, "/objects-test/ow", ObjectWriter.Options.defaults().withOverwrite(true)));
    w.write(second, 0, second.length);
    w.close();

    failsWith(ErrorCode.NOT_FOUND, () -> pinned.read(0, 10));
    assertArrayEquals(second, ObjectReader.open(conn, "/objects-test/ow").read(0, 7000));
  }

  @Test
  void createAndOpenRefuseWhatThePathCannotBe() throws Exception {
    conn.makeDirs("/objects-test/refuse/dir");
    write("/objects-test/refuse/file", new byte[] {9}, ObjectWriter.Options.defaults());
    failsWith(ErrorCode.IS_A_DIRECTORY, () -> ObjectWriter.create(conn, "/objects-test/refuse/dir",
        ObjectWriter.Options.defaults().withOverwrite(true)));
    failsWith(ErrorCode.IS_A_DIRECTORY, () -> ObjectWriter.create(conn, "/"));
    failsWith(ErrorCode.NOT_A_DIRECTORY, () -> ObjectWriter.create(conn, "/objects-test/refuse/file/child"));
    failsWith(ErrorCode.IS_A_DIRECTORY, () -> ObjectReader.open(conn, "/objects-test/refuse/dir"));
    failsWith(ErrorCode.NOT_FOUND, () -> ObjectReader.open(conn, "/objects-test/refuse/missing"));
    for (String bad : new String[] {"relative", "/a//b", "/a/", "/a/./b", "/a/../b", "/a\u0001b", "/" + "a/".repeat(2048)}) {
      failsWith(ErrorCode.INVALID_PATH, () -> conn.statPath(bad));
      failsWith(ErrorCode.INVALID_PATH, () -> ObjectWriter.create(conn, bad));
    }
  }

  @Test
  void listingPagesInNameOrder() throws Exception {
    conn.makeDirs("/objects-test/list");
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      String name = "f" + (char) ('g' - i); // created out of order
      write("/objects-test/list/" + name, new byte[i], ObjectWriter.Options.defaults());
      names.add(name);
    }
    conn.makeDirs("/objects-test/list/dir");
    names.add("dir");
    names.sort(null);

    DirPage first = conn.listDir("/objects-test/list", "", 3);
    assertEquals(3, first.entries().size());
    assertTrue(first.more());

    Namespace.Lister l = Namespace.list(conn, "/objects-test/list", 3);
    List<String> seen = new ArrayList<>();
    while (l.hasNext()) {
      PathInfo e = l.next();
      seen.add(e.name());
      if (e.name().equals("dir")) {
        assertTrue(e.isDirectory());
      } else {
        assertEquals('g' - e.name().charAt(1), e.length());
      }
    }
    assertEquals(names, seen);
    assertEquals(8, Namespace.listAll(conn, "/objects-test/list").size());
    failsWith(ErrorCode.NOT_FOUND, () -> Namespace.list(conn, "/objects-test/list-missing", 0));
    failsWith(ErrorCode.NOT_A_DIRECTORY, () -> Namespace.list(conn, "/objects-test/list/fa", 0));
  }

  @Test
  void mkdirsRenameAndDeleteWithTheServersCodes() throws Exception {
    conn.makeDirs("/objects-test/ns/a/b/c");
    conn.makeDirs("/objects-test/ns/a/b/c"); // existing directory: fine
    write("/objects-test/ns/a/b/c/f", random(6, 100), ObjectWriter.Options.defaults());
    failsWith(ErrorCode.ALREADY_EXISTS, () -> conn.makeDirs("/objects-test/ns/a/b/c/f"));
    failsWith(ErrorCode.NOT_A_DIRECTORY, () -> conn.makeDirs("/objects-test/ns/a/b/c/f/g"));

    // A directory moves with everything under it.
    conn.renamePath("/objects-test/ns/a", "/objects-test/ns/z");
    assertFalse(Namespace.exists(conn, "/objects-test/ns/a"));
    assertEquals(100, conn.statPath("/objects-test/ns/z/b/c/f").length());
    failsWith(ErrorCode.ALREADY_EXISTS, () -> conn.renamePath("/objects-test/ns/z/b/c/f", "/objects-test/ns/z/b/c"));
    failsWith(ErrorCode.NOT_FOUND, () -> conn.renamePath("/objects-test/ns/missing", "/objects-test/ns/m2"));
    failsWith(ErrorCode.NOT_FOUND, () -> conn.renamePath("/objects-test/ns/z", "/objects-test/ns/nope/z"));
    failsWith(ErrorCode.INVALID_ARGUMENT, () -> conn.renamePath("/objects-test/ns/z", "/objects-test/ns/z/b/z"));
    conn.renamePath("/objects-test/ns/z", "/objects-test/ns/z"); // onto itself: nothing

    failsWith(ErrorCode.DIRECTORY_NOT_EMPTY, () -> conn.deletePath("/objects-test/ns/z", false));
    assertTrue(conn.deletePath("/objects-test/ns/z", true));
    assertFalse(conn.deletePath("/objects-test/ns/z", true));
    assertFalse(Namespace.exists(conn, "/objects-test/ns/z/b/c/f"));
    conn.makeDirs("/objects-test/ns/empty");
    assertTrue(conn.deletePath("/objects-test/ns/empty", false));
  }

  @Test
  void ownerIndexIsTheSameAsTheTypeScriptClients() throws Exception {
    // Values from shuffle-client/src/path-owner.ts (node, CRC32C of the top-level name mod N).
    assertEquals(2, PathOwner.ownerIndex("/warehouse/t1", 3));
    assertEquals(4, PathOwner.ownerIndex("/warehouse/t1", 7));
    assertEquals(0, PathOwner.ownerIndex("/a", 3));
    assertEquals(1, PathOwner.ownerIndex("/a", 7));
    assertEquals(0, PathOwner.ownerIndex("/tmp/x/y", 3));
    assertEquals(3, PathOwner.ownerIndex("/tmp/x/y", 7));
    assertEquals(1, PathOwner.ownerIndex("/donn\u00e9es/z", 3));
    assertEquals(6, PathOwner.ownerIndex("/donn\u00e9es/z", 7));
    assertEquals(-1, PathOwner.ownerIndex("/", 3));
    assertEquals("warehouse", PathOwner.topLevelOf("/warehouse/t1/part-0"));
    failsWith(ErrorCode.INVALID_PATH, () -> PathOwner.ownerIndex("warehouse", 3));
  }
}
