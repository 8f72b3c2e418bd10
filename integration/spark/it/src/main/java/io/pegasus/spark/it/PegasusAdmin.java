package io.pegasus.spark.it;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Talks to the Pegasus server behind Spark's back: its {@code /metrics} page, and the Java
 * client that the shaded plugin jar carries: {@code Connection.open(addr, ClientOptions.defaults())
 * .unregisterShuffle(appId, shuffleId)}. Reflective so that the harness builds (and its
 * built-in mode runs) whatever state the client's API is in; a mismatch fails only the
 * scenario that needs it, with the signatures it found.
 */
final class PegasusAdmin {
  private final String address;

  PegasusAdmin(String address) {
    this.address = address;
  }

  void unregisterShuffle(String appId, int shuffleId) throws Exception {
    Class<?> connClass = Class.forName("io.pegasus.client.Connection");
    Class<?> optsClass = Class.forName("io.pegasus.client.ClientOptions");
    Object options = optsClass.getMethod("defaults").invoke(null);
    Method open = null;
    for (Method m : connClass.getMethods()) {
      if (m.getName().equals("open") && Modifier.isStatic(m.getModifiers()) && m.getParameterCount() == 2
          && m.getParameterTypes()[1].isAssignableFrom(optsClass)) {
        open = m;
        break;
      }
    }
    if (open == null) throw new NoSuchMethodException("Connection.open(<address>, ClientOptions) in " + describe(connClass));
    Method openM = open;
    Object connection = unwrap(() -> openM.invoke(null, addressAs(openM.getParameterTypes()[0]), options));
    try {
      Method unregister = null;
      for (Method m : connection.getClass().getMethods()) {
        if (m.getName().equals("unregisterShuffle") && m.getParameterCount() == 2
            && m.getParameterTypes()[0] == String.class) {
          unregister = m;
          break;
        }
      }
      if (unregister == null) {
        throw new NoSuchMethodException("unregisterShuffle(String, int) in " + describe(connection.getClass()));
      }
      Class<?> idType = unregister.getParameterTypes()[1];
      Object id = (idType == long.class || idType == Long.class) ? (Object) (long) shuffleId : (Object) shuffleId;
      Method call = unregister;
      Object result = unwrap(() -> call.invoke(connection, appId, id));
      if (result instanceof Future<?> f) f.get(30, TimeUnit.SECONDS);
    } finally {
      if (connection instanceof AutoCloseable c) c.close();
    }
  }

  /**
   * The value of an unlabelled counter or gauge on the server's {@code /metrics} page
   * (Prometheus text format), e.g. {@code pegasus_read_bytes_total}.
   */
  double metric(String name) throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + address + "/metrics"))
        .timeout(Duration.ofSeconds(30)).GET().build();
    HttpResponse<String> res = http.send(req, HttpResponse.BodyHandlers.ofString());
    if (res.statusCode() != 200) throw new IllegalStateException("GET /metrics of " + address + ": HTTP " + res.statusCode());
    for (String line : res.body().split("\n")) {
      if (line.startsWith(name + " ")) return Double.parseDouble(line.substring(name.length() + 1).trim());
    }
    throw new IllegalStateException("no sample " + name + " on /metrics of " + address);
  }

  private Object addressAs(Class<?> type) {
    int colon = address.lastIndexOf(':');
    String host = address.substring(0, colon);
    int port = Integer.parseInt(address.substring(colon + 1));
    if (type == String.class) return address;
    if (type == InetSocketAddress.class) return new InetSocketAddress(host, port);
    if (type == URI.class) return URI.create("ws://" + address);
    throw new IllegalArgumentException("Connection.open takes a " + type.getName() + " address; the harness knows String, InetSocketAddress, URI");
  }

  private interface Call {
    Object run() throws Exception;
  }

  private static Object unwrap(Call call) throws Exception {
    try {
      return call.run();
    } catch (InvocationTargetException e) {
      Throwable t = e.getCause();
      if (t instanceof Exception ex) throw ex;
      if (t instanceof Error err) throw err;
      throw e;
    }
  }

  private static String describe(Class<?> c) {
    StringBuilder sb = new StringBuilder(c.getName()).append(" {");
    for (Method m : c.getMethods()) {
      if (m.getDeclaringClass() == Object.class) continue;
      sb.append(' ').append(m.getName()).append('(');
      Class<?>[] ps = m.getParameterTypes();
      for (int i = 0; i < ps.length; i++) sb.append(i == 0 ? "" : ",").append(ps[i].getSimpleName());
      sb.append(')');
    }
    return sb.append(" }").toString();
  }
}
