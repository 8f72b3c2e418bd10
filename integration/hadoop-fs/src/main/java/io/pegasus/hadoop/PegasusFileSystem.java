package io.pegasus.hadoop;

import io.pegasus.client.ClientOptions;
import io.pegasus.client.Connection;
import io.pegasus.client.Namespace;
import io.pegasus.client.ObjectReader;
import io.pegasus.client.ObjectWriter;
import io.pegasus.client.PathInfo;
import io.pegasus.client.PathOwner;
import io.pegasus.client.PegasusException;
import io.pegasus.client.WireLimits;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.CreateFlag;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.ParentNotDirectoryException;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.PathIsNotEmptyDirectoryException;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.util.Progressable;
import pegasus.wire.ErrorCode;

/**
 * pegasus://host:port/path: a Hadoop {@link FileSystem} over the objects namespace of
 * one or several Pegasus servers (schemas/FRAMING.md "Objects").
 *
 * <p>Configuration ({@link PegasusConfigKeys} declares every key): {@code fs.pegasus.impl
 * = io.pegasus.hadoop.PegasusFileSystem} (also found through META-INF/services), in Spark
 * {@code spark.hadoop.fs.pegasus.impl}. {@code fs.pegasus.servers = host:port,...} names
 * every server, in an order every client shares; without it the URI's authority is the
 * one server. Each path belongs to one server: the one at index CRC32C(UTF-8 bytes of
 * the path's top-level directory name), as an unsigned 32-bit integer, mod the number of
 * servers ({@link PathOwner}; shufflectl and the TypeScript client use the same rule).
 * The root lists the top-level directories of every server.
 *
 * <p>Semantics, on the server's (write-once objects, atomic rename and delete):
 * <ul>
 *   <li>create: the file appears, whole, when its stream's close() returns (contract
 *       option create-visibility-delayed); missing parents are created then. A directory
 *       at the path is FileAlreadyExistsException, a file with overwrite false too, a file
 *       as an ancestor ParentNotDirectoryException, all at create(). No append, no concat,
 *       no hflush/hsync ({@link PegasusOutputStream}).</li>
 *   <li>open: the file is pinned; reads never return another file's bytes
 *       ({@link PegasusInputStream}).</li>
 *   <li>rename: Hadoop's rules on the server's strict, atomic rename: into an existing
 *       directory it moves under it; false when the source is missing, the destination
 *       is a file or its parent is missing or a file, or the destination lies under the
 *       source; true for a path onto itself. Atomic within a server. Across servers
 *       (different top-level directories on different servers) it is refused with an
 *       IOException: there is no atomic way.</li>
 *   <li>delete: atomic (the whole subtree disappears at once); the root is never deleted
 *       (delete("/", true) returns false and deletes nothing, delete("/", false) of a
 *       non-empty root throws PathIsNotEmptyDirectoryException).</li>
 *   <li>No permissions, owners, times but the modification time, symlinks, extended
 *       attributes or checksums: statuses carry the caller as owner and group and the
 *       default permissions.</li>
 * </ul>
 *
 * <p>Connections: one per server per instance, opened on first use, shared by every
 * stream and call of the instance, opened again after it failed (idempotent calls and
 * reads of open files are repeated once on the new one; rename and delete are not).
 */
public class PegasusFileSystem extends FileSystem {
  public static final String SCHEME = "pegasus";
  /** The server's default port (README), used when a URI names none. */
  public static final int DEFAULT_PORT = 9527;
  private static final Pattern HOST_PORT = Pattern.compile("^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):(\\d{1,5})$");

  private URI uri;
  private ServerSet servers;
  private Path workingDir;
  private long blockSize;
  private ObjectWriter.Options writerOptions;
  private int readBufferBytes;
  private int listPageSize;
  private String owner;
  private String group;

  @Override
  public String getScheme() {
    return SCHEME;
  }

  @Override
  public URI getUri() {
    return uri;
  }

  @Override
  protected int getDefaultPort() {
    return DEFAULT_PORT;
  }

  /** No delegation tokens: none are needed to reach a server. */
  @Override
  public String getCanonicalServiceName() {
    return null;
  }

  @Override
  public void initialize(URI name, Configuration conf) throws IOException {
    super.initialize(name, conf);
    setConf(conf);
    String authority = name.getAuthority();
    List<String> addresses = new ArrayList<>(new LinkedHashSet<>(Arrays.asList(
        conf.getTrimmedStrings(PegasusConfigKeys.SERVERS.name))));
    if (addresses.isEmpty() && authority != null) addresses.add(authority);
    if (addresses.isEmpty()) {
      throw new IOException("pegasus:// needs a server: a URI pegasus://host:port/... or "
          + PegasusConfigKeys.SERVERS.name + "=host:port,...");
    }
    for (String a : addresses) {
      if (!HOST_PORT.matcher(a).matches()) {
        throw new IOException("pegasus server \"" + a + "\" is not host:port (" + PegasusConfigKeys.SERVERS.name
            + " or the URI's authority)");
      }
    }
    uri = URI.create(SCHEME + "://" + (authority == null ? "" : authority) + (authority == null ? "/" : ""));
    blockSize = PegasusConfigKeys.BLOCK_SIZE.getLong(conf);
    writerOptions = ObjectWriter.Options.defaults()
        .withChunkBytes(PegasusConfigKeys.WRITE_CHUNK_BYTES.getInt(conf))
        .withAppendsInFlight(PegasusConfigKeys.WRITE_APPENDS_IN_FLIGHT.getInt(conf));
    readBufferBytes = PegasusConfigKeys.READ_BUFFER_BYTES.getInt(conf);
    listPageSize = PegasusConfigKeys.LIST_PAGE_SIZE.getInt(conf);
    ClientOptions options = ClientOptions.defaults()
        .withConnectTimeoutMillis(PegasusConfigKeys.CONNECT_TIMEOUT_MS.getLong(conf))
        .withRequestTimeoutMillis(PegasusConfigKeys.REQUEST_TIMEOUT_MS.getLong(conf))
        .withReadCreditBytes(PegasusConfigKeys.READ_CREDIT_BYTES.getInt(conf))
        .withClientName("pegasus-hadoop-fs/" + WireLimits.CLIENT_VERSION);
    servers = new ServerSet(addresses, options);
    UserGroupInformation user = UserGroupInformation.getCurrentUser();
    owner = user.getShortUserName();
    group = owner;
    workingDir = new Path("/user", owner).makeQualified(uri, null);
  }

  ServerSet servers() {
    return servers;
  }

  @Override
  public Path getWorkingDirectory() {
    return workingDir;
  }

  @Override
  public void setWorkingDirectory(Path dir) {
    workingDir = makeQualified(dir);
  }

  @Override
  public long getDefaultBlockSize() {
    return blockSize;
  }

  @Override
  public short getDefaultReplication() {
    return 1;
  }

  // ---------------------------------------------------------------------------
  // Paths

  /** The server's path of {@code p}: absolute, normalized by Hadoop's Path; "Wrong FS" for another file system's. */
  String pathOf(Path p) {
    String s = makeQualified(p).toUri().getPath();
    return s == null || s.isEmpty() ? "/" : s;
  }

  private Path qualify(String serverPath) {
    return new Path(uri.getScheme(), uri.getAuthority(), serverPath);
  }

  private static String child(String dir, String name) {
    return dir.equals("/") ? "/" + name : dir + "/" + name;
  }

  private static String parentOf(String path) {
    int slash = path.lastIndexOf('/');
    return slash <= 0 ? "/" : path.substring(0, slash);
  }

  private static String lastName(String path) {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  private FileStatus toStatus(String path, PathInfo i) {
    boolean dir = i.isDirectory();
    return new FileStatus(dir ? 0 : i.length(), dir, 1, dir ? 0 : blockSize, i.mtimeMs(), 0,
        dir ? FsPermission.getDirDefault() : FsPermission.getFileDefault(), owner, group, qualify(path));
  }

  private FileStatus rootStatus() {
    return new FileStatus(0, true, 1, 0, 0, 0, FsPermission.getDirDefault(), owner, group, qualify("/"));
  }

  // ---------------------------------------------------------------------------
  // Requests

  @FunctionalInterface
  private interface Op<T> {
    T apply(Connection c) throws PegasusException;
  }

  /** Runs {@code op} on server {@code server}'s connection; an idempotent one once more on a new connection if it was lost. */
  private <T> T call(int server, boolean idempotent, Op<T> op) throws IOException {
    try {
      return op.apply(servers.connection(server));
    } catch (PegasusException e) {
      if (!idempotent || !ServerSet.isConnectionLost(e)) throw e;
      return op.apply(servers.connection(server));
    }
  }

  /** The status of {@code path}, or null when nothing is there (an ancestor that is a file included). */
  private PathInfo statOrNull(String path) throws IOException {
    try {
      return call(servers.ownerOf(path), true, c -> c.statPath(path));
    } catch (PegasusException e) {
      if (e.code() == ErrorCode.NOT_FOUND || e.code() == ErrorCode.NOT_A_DIRECTORY) return null;
      throw PegasusErrors.translate(e, path);
    }
  }

  // ---------------------------------------------------------------------------
  // FileSystem

  @Override
  public FileStatus getFileStatus(Path f) throws IOException {
    String p = pathOf(f);
    if (p.equals("/")) return rootStatus();
    PathInfo i = statOrNull(p);
    if (i == null) throw new FileNotFoundException(qualify(p) + ": no such file or directory");
    return toStatus(p, i);
  }

  @Override
  public FSDataInputStream open(Path f, int bufferSize) throws IOException {
    String p = pathOf(f);
    if (p.equals("/")) throw new FileNotFoundException("/ is a directory");
    int server = servers.ownerOf(p);
    ObjectReader r;
    try {
      r = call(server, true, c -> ObjectReader.open(c, p));
    } catch (PegasusException e) {
      if (e.code() == ErrorCode.IS_A_DIRECTORY) {
        FileNotFoundException d = new FileNotFoundException(qualify(p) + " is a directory");
        d.initCause(e);
        throw d;
      }
      if (e.code() == ErrorCode.NOT_A_DIRECTORY) {
        FileNotFoundException d = new FileNotFoundException(qualify(p) + ": no such file (an ancestor is a file)");
        d.initCause(e);
        throw d;
      }
      throw PegasusErrors.translate(e, p);
    }
    return new FSDataInputStream(new PegasusInputStream(this, server, r, readBufferBytes, statistics));
  }

  @Override
  public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize, short replication,
      long blockSize, Progressable progress) throws IOException {
    String p = pathOf(f);
    if (p.equals("/")) throw new FileAlreadyExistsException("/ is a directory");
    ObjectWriter.Options o = writerOptions.withOverwrite(overwrite);
    ObjectWriter w;
    try {
      // Repeatable: a writer whose connection was lost is dropped by the server with it.
      w = call(servers.ownerOf(p), true, c -> ObjectWriter.create(c, p, o));
    } catch (PegasusException e) {
      throw PegasusErrors.translate(e, p);
    }
    return new FSDataOutputStream(new PegasusOutputStream(w, p, statistics), null);
  }

  /**
   * As create(), once the parent is known to be an existing directory
   * (FileNotFoundException, ParentNotDirectoryException). Not atomic with the create: a
   * parent deleted in between is made again when the file is closed.
   */
  @Override
  public FSDataOutputStream createNonRecursive(Path f, FsPermission permission, EnumSet<CreateFlag> flags, int bufferSize,
      short replication, long blockSize, Progressable progress) throws IOException {
    String p = pathOf(f);
    String parent = parentOf(p);
    if (!parent.equals("/")) {
      PathInfo i = statOrNull(parent);
      if (i == null) throw new FileNotFoundException(qualify(parent) + ": parent directory does not exist");
      if (i.isFile()) throw new ParentNotDirectoryException(qualify(parent) + " is a file");
    }
    return create(f, permission, flags.contains(CreateFlag.OVERWRITE), bufferSize, replication, blockSize, progress);
  }

  /** Objects are write-once. */
  @Override
  public FSDataOutputStream append(Path f, int bufferSize, Progressable progress) throws IOException {
    throw new UnsupportedOperationException("pegasus:// does not append: files are written once (" + f + ")");
  }

  @Override
  public boolean rename(Path src, Path dst) throws IOException {
    String from = pathOf(src);
    String to = pathOf(dst);
    if (from.equals("/")) return false;
    PathInfo source = statOrNull(from);
    if (source == null) return false;
    if (to.equals(from)) return true;
    if (to.startsWith(from + "/")) return false; // under itself
    String target = to;
    PathInfo there = to.equals("/") ? null : statOrNull(to);
    if (to.equals("/") || there != null) {
      if (there != null && there.isFile()) return false;
      target = child(to, lastName(from)); // into the directory
      if (target.equals(from)) return true; // into its own parent: nothing changes
      if (statOrNull(target) != null) return false;
    } else {
      String parent = parentOf(to);
      PathInfo p = parent.equals("/") ? null : statOrNull(parent);
      if (!parent.equals("/") && (p == null || p.isFile())) return false;
    }
    int server = servers.ownerOf(from);
    if (servers.ownerOf(target) != server) {
      throw new IOException("rename " + qualify(from) + " to " + qualify(target) + ": their top-level directories live on"
          + " different servers (" + servers.address(server) + ", " + servers.address(servers.ownerOf(target))
          + "), and pegasus:// renames atomically within one server only");
    }
    String dest = target;
    try {
      call(server, false, c -> {
        c.renamePath(from, dest);
        return null;
      });
      return true;
    } catch (PegasusException e) {
      switch (e.code()) {
        case ErrorCode.NOT_FOUND: // the source went, or the destination's parent did, after the checks
        case ErrorCode.ALREADY_EXISTS: // the destination was taken after the checks
        case ErrorCode.NOT_A_DIRECTORY:
          return false;
        default:
          throw PegasusErrors.translate(e, from);
      }
    }
  }

  @Override
  public boolean delete(Path f, boolean recursive) throws IOException {
    String p = pathOf(f);
    if (p.equals("/")) return deleteRoot(recursive);
    try {
      return call(servers.ownerOf(p), false, c -> c.deletePath(p, recursive));
    } catch (PegasusException e) {
      if (e.code() == ErrorCode.NOT_A_DIRECTORY) return false; // an ancestor is a file: nothing is at the path
      throw PegasusErrors.translate(e, p);
    }
  }

  /** The root is never deleted; a non-recursive delete of a non-empty root fails as for any directory. */
  private boolean deleteRoot(boolean recursive) throws IOException {
    if (!recursive) {
      for (int i = 0; i < servers.size(); i++) {
        int server = i;
        boolean empty;
        try {
          empty = call(i, true, c -> c.listDir("/", "", 1)).entries().isEmpty();
        } catch (PegasusException e) {
          throw PegasusErrors.translate(e, "/");
        }
        if (!empty) {
          throw new PathIsNotEmptyDirectoryException("/ (server " + servers.address(server) + " holds entries)");
        }
      }
    }
    return false;
  }

  @Override
  public boolean mkdirs(Path f, FsPermission permission) throws IOException {
    String p = pathOf(f);
    if (p.equals("/")) return true;
    try {
      call(servers.ownerOf(p), true, c -> {
        c.makeDirs(p);
        return null;
      });
      return true;
    } catch (PegasusException e) {
      throw PegasusErrors.translate(e, p);
    }
  }

  @Override
  public FileStatus[] listStatus(Path f) throws IOException {
    List<FileStatus> out = new ArrayList<>();
    RemoteIterator<FileStatus> it = listStatusIterator(f);
    while (it.hasNext()) out.add(it.next());
    return out.toArray(new FileStatus[0]);
  }

  /**
   * The directory's entries in name order, read a page of {@code fs.pegasus.list.page.size}
   * at a time; a file lists as itself; FileNotFoundException at once when nothing is there.
   */
  @Override
  public RemoteIterator<FileStatus> listStatusIterator(Path f) throws IOException {
    String p = pathOf(f);
    if (p.equals("/")) return new ListIterator(listRoot());
    Namespace.Lister lister;
    try {
      lister = call(servers.ownerOf(p), true, c -> Namespace.list(c, p, listPageSize));
    } catch (PegasusException e) {
      if (e.code() == ErrorCode.NOT_A_DIRECTORY) return new ListIterator(List.of(getFileStatus(f))); // a file (or FNFE)
      throw PegasusErrors.translate(e, p);
    }
    return new RemoteIterator<FileStatus>() {
      @Override
      public boolean hasNext() throws IOException {
        try {
          return lister.hasNext();
        } catch (PegasusException e) {
          throw PegasusErrors.translate(e, p);
        }
      }

      @Override
      public FileStatus next() throws IOException {
        if (!hasNext()) throw new NoSuchElementException("listing of " + p + " has ended");
        try {
          PathInfo e = lister.next();
          return toStatus(child(p, e.name()), e);
        } catch (PegasusException e) {
          throw PegasusErrors.translate(e, p);
        }
      }
    };
  }

  /**
   * The top-level entries of every server, each from the server that owns its name (an
   * entry on another server is not reachable through this configuration and is left
   * out), in UTF-8 byte order as one server lists.
   */
  private List<FileStatus> listRoot() throws IOException {
    List<FileStatus> out = new ArrayList<>();
    for (int i = 0; i < servers.size(); i++) {
      try {
        Namespace.Lister l = call(i, true, c -> Namespace.list(c, "/", listPageSize));
        while (l.hasNext()) {
          PathInfo e = l.next();
          String path = "/" + e.name();
          if (servers.ownerOf(path) != i) continue;
          out.add(toStatus(path, e));
        }
      } catch (PegasusException e) {
        throw PegasusErrors.translate(e, "/");
      }
    }
    if (servers.size() > 1) {
      out.sort((a, b) -> Arrays.compareUnsigned(a.getPath().getName().getBytes(StandardCharsets.UTF_8),
          b.getPath().getName().getBytes(StandardCharsets.UTF_8)));
    }
    return out;
  }

  private static final class ListIterator implements RemoteIterator<FileStatus> {
    private final List<FileStatus> items;
    private int next;

    ListIterator(List<FileStatus> items) {
      this.items = items;
    }

    @Override
    public boolean hasNext() {
      return next < items.size();
    }

    @Override
    public FileStatus next() {
      if (!hasNext()) throw new NoSuchElementException();
      return items.get(next++);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      super.close(); // deleteOnExit paths are deleted here, through the connections
    } finally {
      if (servers != null) servers.close();
    }
  }

  @Override
  public String toString() {
    return "PegasusFileSystem{" + uri + ", servers=" + (servers == null ? "[]" : servers.size()) + "}";
  }
}
