package io.pegasus.client;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import pegasus.wire.ErrorCode;

/**
 * Connections per server address, shared by the threads of one JVM. {@link #borrow}
 * gives a connection no one else uses (an idle one, or a new one); {@link #release}
 * returns it. At most {@link ClientOptions#poolMaxIdlePerServer()} idle connections are
 * kept per address, each closed after {@link ClientOptions#poolIdleMillis()} unused.
 * Closed or failed connections are never handed out again.
 */
public final class ConnectionPool implements AutoCloseable {
  private static final class Idle {
    final Connection conn;
    final long since;

    Idle(Connection conn, long since) {
      this.conn = conn;
      this.since = since;
    }
  }

  private final ClientOptions options;
  private final int maxIdlePerServer;
  private final long idleMillis;
  private final Map<String, ArrayDeque<Idle>> idle = new HashMap<>();
  private final ScheduledFuture<?> reaper;
  private boolean closed;
  private long opened;

  public ConnectionPool(ClientOptions o) {
    this.options = Objects.requireNonNull(o, "options");
    this.maxIdlePerServer = o.poolMaxIdlePerServer();
    this.idleMillis = o.poolIdleMillis();
    this.reaper = Timers.scheduleWithFixedDelay(this::closeExpired, Math.max(100, idleMillis / 2));
  }

  public ClientOptions options() {
    return options;
  }

  /** An open connection to {@code hostPort} that no one else holds; opens one if none is idle. */
  public Connection borrow(String hostPort) throws PegasusException {
    Objects.requireNonNull(hostPort, "hostPort");
    List<Connection> stale = new ArrayList<>();
    Connection found = null;
    synchronized (this) {
      if (closed) throw new PegasusException(ErrorCode.CONNECTION_CLOSED, "connection pool is closed");
      ArrayDeque<Idle> q = idle.get(hostPort);
      while (q != null && !q.isEmpty()) {
        Idle i = q.pollLast(); // most recently used first: the others may expire
        if (i.conn.isOpen()) {
          found = i.conn;
          break;
        }
        stale.add(i.conn);
      }
      if (q != null && q.isEmpty()) idle.remove(hostPort);
    }
    for (Connection c : stale) c.close();
    if (found != null) return found;
    Connection c = Connection.open(hostPort, options);
    synchronized (this) {
      opened++;
      if (!closed) return c;
    }
    c.close();
    throw new PegasusException(ErrorCode.CONNECTION_CLOSED, "connection pool is closed");
  }

  /** Whether {@link #close()} was called: no connection will be handed out any more. */
  public synchronized boolean isClosed() {
    return closed;
  }

  /** Returns a borrowed connection. Closed or failed connections are dropped; beyond the idle bound they are closed. */
  public void release(Connection c) {
    if (c == null) return;
    if (!c.isOpen()) return;
    boolean keep = false;
    synchronized (this) {
      if (!closed && maxIdlePerServer > 0) {
        ArrayDeque<Idle> q = idle.computeIfAbsent(c.address(), k -> new ArrayDeque<>());
        if (q.size() < maxIdlePerServer) {
          q.addLast(new Idle(c, System.nanoTime()));
          keep = true;
        }
      }
    }
    if (!keep) c.close();
  }

  /** Idle connections kept now, over all addresses. */
  public synchronized int idleCount() {
    int n = 0;
    for (ArrayDeque<Idle> q : idle.values()) n += q.size();
    return n;
  }

  /** Connections this pool has opened so far. */
  public synchronized long openedCount() {
    return opened;
  }

  private void closeExpired() {
    List<Connection> expired = new ArrayList<>();
    long now = System.nanoTime();
    long idleNanos = idleMillis * 1_000_000L;
    synchronized (this) {
      for (Iterator<ArrayDeque<Idle>> it = idle.values().iterator(); it.hasNext(); ) {
        ArrayDeque<Idle> q = it.next();
        for (Iterator<Idle> i = q.iterator(); i.hasNext(); ) {
          Idle x = i.next();
          if (!x.conn.isOpen() || now - x.since >= idleNanos) {
            i.remove();
            expired.add(x.conn);
          }
        }
        if (q.isEmpty()) it.remove();
      }
    }
    for (Connection c : expired) c.close();
  }

  /** Closes the idle connections; borrowed ones are closed when released. */
  @Override
  public void close() {
    List<Connection> all = new ArrayList<>();
    synchronized (this) {
      if (closed) return;
      closed = true;
      for (ArrayDeque<Idle> q : idle.values()) {
        for (Idle i : q) all.add(i.conn);
      }
      idle.clear();
    }
    reaper.cancel(false);
    for (Connection c : all) c.close();
  }
}
