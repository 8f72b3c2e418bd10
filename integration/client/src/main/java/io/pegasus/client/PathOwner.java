package io.pegasus.client;

import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;
import pegasus.wire.ErrorCode;

/**
 * Which server owns a path of the objects namespace when there are several
 * (shuffle-client/src/path-owner.ts is the TypeScript twin; every client must agree):
 * every path under one top-level directory lives on one server, so a rename inside it
 * stays on one server and is atomic. The rule: the servers in the order configured,
 * index = CRC32C (Castagnoli) of the top-level component's UTF-8 bytes, as an unsigned
 * 32-bit integer, modulo the number of servers. The root itself lives on every server
 * (each holds its own top-level directories).
 */
public final class PathOwner {
  private PathOwner() {}

  /** The first component of an absolute path ({@code /a/b} gives {@code a}), or null for {@code /}. */
  public static String topLevelOf(String path) throws PegasusException {
    if (path == null || !path.startsWith("/")) {
      throw new PegasusException(ErrorCode.INVALID_PATH, "path \"" + path + "\" is not absolute");
    }
    if (path.length() == 1) return null;
    int slash = path.indexOf('/', 1);
    return slash < 0 ? path.substring(1) : path.substring(1, slash);
  }

  /** The index of the server owning {@code path} among {@code count}; -1 for the root (every server). */
  public static int ownerIndex(String path, int count) throws PegasusException {
    if (count < 1) throw new IllegalArgumentException("server count " + count);
    String top = topLevelOf(path);
    if (top == null) return -1;
    CRC32C c = new CRC32C(); // not BlockCodec's: that class links lz4-java, which a file system client need not have
    c.update(top.getBytes(StandardCharsets.UTF_8));
    return (int) (c.getValue() % count);
  }
}
