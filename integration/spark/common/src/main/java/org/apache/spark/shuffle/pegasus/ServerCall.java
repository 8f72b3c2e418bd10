package org.apache.spark.shuffle.pegasus;

import io.pegasus.client.Connection;
import io.pegasus.client.ConnectionPool;
import io.pegasus.client.PegasusException;

/** One control request on a pooled connection; a connection that failed is not reused. */
@FunctionalInterface
interface ServerCall {
  void run(Connection c) throws PegasusException;

  static void on(ConnectionPool pool, String server, ServerCall call) throws PegasusException {
    Connection c = pool.borrow(server);
    boolean ok = false;
    try {
      call.run(c);
      ok = true;
    } finally {
      if (ok) pool.release(c);
      else c.close();
    }
  }
}
