package io.pegasus.client;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import pegasus.wire.ErrorCode;

/**
 * The namespace calls of the objects tenant (FRAMING.md "Objects") beyond the single
 * requests on {@link Connection} ({@code statPath}, {@code listDir}, {@code makeDirs},
 * {@code renamePath}, {@code deletePath}): existence, and listings of any size read a
 * page at a time. The Java twin of shuffle-client/src/namespace.ts. Errors carry the
 * server's codes: NOT_FOUND, ALREADY_EXISTS, NOT_A_DIRECTORY, IS_A_DIRECTORY,
 * DIRECTORY_NOT_EMPTY, INVALID_PATH.
 */
public final class Namespace {
  private Namespace() {}

  /** Whether {@code path} names anything. */
  public static boolean exists(Connection conn, String path) throws PegasusException {
    try {
      conn.statPath(path);
      return true;
    } catch (PegasusException e) {
      if (e.code() == ErrorCode.NOT_FOUND) return false;
      throw e;
    }
  }

  /**
   * The entries of directory {@code path} in name order, read a page (at most
   * {@code pageSize}; 0: the server's bound) per request as the lister is consumed. The
   * first page is read here, so a missing path fails at once (NOT_FOUND, NOT_A_DIRECTORY).
   */
  public static Lister list(Connection conn, String path, int pageSize) throws PegasusException {
    Lister l = new Lister(conn, path, pageSize);
    l.fetch();
    return l;
  }

  /** Every entry of directory {@code path}, in name order. */
  public static List<PathInfo> listAll(Connection conn, String path) throws PegasusException {
    List<PathInfo> out = new ArrayList<>();
    Lister l = list(conn, path, 0);
    while (l.hasNext()) out.add(l.next());
    return out;
  }

  /** A directory listing read a page at a time; by one thread. */
  public static final class Lister {
    private final Connection conn;
    private final String path;
    private final int pageSize;
    private Iterator<PathInfo> page = List.<PathInfo>of().iterator();
    private String after = "";
    private boolean more = true;

    private Lister(Connection conn, String path, int pageSize) {
      this.conn = Objects.requireNonNull(conn, "conn");
      this.path = Objects.requireNonNull(path, "path");
      if (pageSize < 0) throw new IllegalArgumentException("pageSize " + pageSize);
      this.pageSize = pageSize;
    }

    private void fetch() throws PegasusException {
      DirPage p = conn.listDir(path, after, pageSize);
      List<PathInfo> entries = p.entries();
      page = entries.iterator();
      more = p.more() && !entries.isEmpty();
      if (!entries.isEmpty()) after = entries.get(entries.size() - 1).name();
    }

    public boolean hasNext() throws PegasusException {
      while (!page.hasNext()) {
        if (!more) return false;
        fetch();
      }
      return true;
    }

    public PathInfo next() throws PegasusException {
      if (!hasNext()) throw new NoSuchElementException("listing of " + path + " has ended");
      return page.next();
    }
  }
}
