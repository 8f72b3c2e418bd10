package io.pegasus.hadoop;

import io.pegasus.client.ClientOptions;
import io.pegasus.client.Connection;
import io.pegasus.client.PathOwner;
import io.pegasus.client.PegasusException;
import java.io.IOException;
import java.util.List;
import pegasus.wire.ErrorCode;

/**
 * The servers of one file system instance and one connection to each, opened on first
 * use and opened again after it failed. Every stream and call of the instance shares
 * it: the Java client multiplexes requests, and the push window bounds the appends in
 * flight on it. Which server owns a path is {@link PathOwner}'s rule (CRC32C of the
 * top-level directory's UTF-8 name mod the number of servers); with one server it is
 * always that one.
 */
final class ServerSet implements AutoCloseable {
  private final List<String> addresses;
  private final ClientOptions options;
  private final Connection[] conns;
  private boolean closed;

  ServerSet(List<String> addresses, ClientOptions options) {
    if (addresses.isEmpty()) throw new IllegalArgumentException("no servers");
    this.addresses = List.copyOf(addresses);
    this.options = options;
    this.conns = new Connection[addresses.size()];
  }

  int size() {
    return addresses.size();
  }

  String address(int i) {
    return addresses.get(i);
  }

  /** The index of the server owning {@code path}; 0 for the root with one server, -1 for the root with several. */
  int ownerOf(String path) throws PegasusException {
    if (addresses.size() == 1) return 0;
    return PathOwner.ownerIndex(path, addresses.size());
  }

  /** An open connection to server {@code i}: the one in use, or a new one if it failed or none was made yet. */
  Connection connection(int i) throws IOException {
    synchronized (this) {
      if (closed) throw new IOException("pegasus file system is closed");
      Connection c = conns[i];
      if (c != null && c.isOpen()) return c;
      // Opening under the lock: callers of the same server wait for one handshake, not make several.
      c = Connection.open(addresses.get(i), options);
      conns[i] = c;
      return c;
    }
  }

  /** Whether {@code e} means the connection itself failed, so that a repeat on a new one may succeed. */
  static boolean isConnectionLost(PegasusException e) {
    return e.code() == ErrorCode.CONNECTION_CLOSED;
  }

  @Override
  public void close() {
    Connection[] open;
    synchronized (this) {
      if (closed) return;
      closed = true;
      open = conns.clone();
    }
    for (Connection c : open) {
      if (c != null) c.close();
    }
  }
}
