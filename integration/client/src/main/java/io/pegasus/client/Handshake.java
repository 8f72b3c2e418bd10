package io.pegasus.client;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import pegasus.wire.ErrorCode;

/**
 * The client side of the RFC 6455 opening handshake (section 4.1), without the socket:
 *
 * <pre>
 * GET /ws HTTP/1.1                        HTTP/1.1 101 Switching Protocols
 * Host: host:port                         Upgrade: websocket
 * Upgrade: websocket                      Connection: Upgrade
 * Connection: Upgrade                     Sec-WebSocket-Accept: base64(SHA-1(key + GUID))
 * Sec-WebSocket-Key: base64(16 random bytes)
 * Sec-WebSocket-Version: 13
 * </pre>
 *
 * No Origin (the server refuses browsers' upgrades), no subprotocol, no extension: an
 * answer naming one is refused, since none was offered. Any status other than 101 is a
 * refusal; the server's body then names the error code, as plain text ({@code
 * SHUTTING_DOWN}) or as JSON ({@code {"code":"UNAUTHORIZED","message":...}}).
 */
final class Handshake {
  private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  private static final int KEY_BYTES = 16;
  private static final Pattern STATUS_LINE = Pattern.compile("^HTTP/1\\.1 (\\d{3})(?: (.*))?$");
  private static final Pattern JSON_CODE = Pattern.compile("\"code\"\\s*:\\s*\"([A-Z_]+)\"");
  private static final byte[] HEAD_END = {'\r', '\n', '\r', '\n'};

  private final String hostPort;
  private final String path;
  private final String key;

  Handshake(String hostPort, String path, SecureRandom random) {
    this.hostPort = hostPort;
    this.path = path;
    byte[] k = new byte[KEY_BYTES];
    random.nextBytes(k);
    this.key = Base64.getEncoder().encodeToString(k);
  }

  /** The upgrade request, ready to write. */
  ByteBuffer request() {
    String r = "GET " + path + " HTTP/1.1\r\nHost: " + hostPort + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    return ByteBuffer.wrap(r.getBytes(StandardCharsets.US_ASCII));
  }

  /** The Sec-WebSocket-Accept a server must answer for {@code key}. */
  static String acceptFor(String key) {
    try {
      MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
      return Base64.getEncoder().encodeToString(sha1.digest((key + GUID).getBytes(StandardCharsets.US_ASCII)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is missing from this JDK", e);
    }
  }

  /**
   * The length of the answer's head (status line and headers, blank line included) at
   * the start of {@code buf}'s remaining bytes, or -1 if the blank line has not arrived.
   */
  static int headLength(ByteBuffer buf) {
    int start = buf.position();
    int end = buf.limit() - HEAD_END.length;
    outer:
    for (int i = start; i <= end; i++) {
      for (int j = 0; j < HEAD_END.length; j++) {
        if (buf.get(i + j) != HEAD_END[j]) continue outer;
      }
      return i + HEAD_END.length - start;
    }
    return -1;
  }

  /** A parsed answer head. Header names are lower case; a repeated header keeps its last value. */
  static final class Answer {
    final int status;
    final String reason;
    final Map<String, String> headers;

    Answer(int status, String reason, Map<String, String> headers) {
      this.status = status;
      this.reason = reason;
      this.headers = headers;
    }

    /** The Content-Length, or -1 when absent or not a number. */
    long contentLength() {
      String v = headers.get("content-length");
      if (v == null || !v.matches("\\d{1,12}")) return -1;
      return Long.parseLong(v);
    }
  }

  /** Parses the head (ISO-8859-1, as HTTP/1.1 headers are). CONNECTION_CLOSED when it is not an HTTP/1.1 answer. */
  Answer parse(byte[] head) throws PegasusException {
    String[] lines = new String(head, StandardCharsets.ISO_8859_1).split("\r\n");
    Matcher m = STATUS_LINE.matcher(lines[0]);
    if (!m.matches()) {
      throw refused("answered the WebSocket upgrade with \"" + clip(lines[0]) + "\", not an HTTP/1.1 status line");
    }
    Map<String, String> headers = new HashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon <= 0) continue;
      headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
    }
    return new Answer(Integer.parseInt(m.group(1)), m.group(2) == null ? "" : m.group(2), headers);
  }

  /** Checks a 101 answer: Upgrade, Connection, Sec-WebSocket-Accept, and nothing that was not offered. */
  void checkAccepted(Answer a) throws PegasusException {
    String upgrade = a.headers.get("upgrade");
    if (upgrade == null || !upgrade.equalsIgnoreCase("websocket")) {
      throw refused("answered 101 with Upgrade: " + upgrade);
    }
    String connection = a.headers.get("connection");
    if (connection == null || !hasToken(connection, "upgrade")) {
      throw refused("answered 101 with Connection: " + connection);
    }
    String accept = a.headers.get("sec-websocket-accept");
    String expected = acceptFor(key);
    if (!expected.equals(accept)) {
      throw refused("answered 101 with Sec-WebSocket-Accept: " + accept + ", expected " + expected);
    }
    for (String h : new String[] {"sec-websocket-extensions", "sec-websocket-protocol"}) {
      String v = a.headers.get(h);
      if (v != null && !v.isEmpty()) throw refused("answered 101 with " + h + ": " + clip(v) + ", which was not offered");
    }
  }

  /**
   * The failure for a refused upgrade (status not 101): the code the body names, else
   * CONNECTION_CLOSED; the message carries the status and the body.
   */
  PegasusException refusal(Answer a, byte[] body) {
    String text = new String(body, StandardCharsets.UTF_8).trim();
    int code = ErrorCode.CONNECTION_CLOSED;
    Matcher m = JSON_CODE.matcher(text);
    String name = m.find() ? m.group(1) : text;
    for (int i = 0; i < ErrorCode.names.length; i++) {
      if (ErrorCode.names[i].equals(name)) code = i;
    }
    return new PegasusException(code, "server " + hostPort + " refused the WebSocket upgrade (HTTP " + a.status
        + (text.isEmpty() ? "" : ", " + clip(text)) + ")");
  }

  private PegasusException refused(String what) {
    return new PegasusException(ErrorCode.CONNECTION_CLOSED, "server " + hostPort + " " + what);
  }

  private static boolean hasToken(String list, String token) {
    for (String t : list.split(",")) {
      if (t.trim().equalsIgnoreCase(token)) return true;
    }
    return false;
  }

  private static String clip(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }
}
