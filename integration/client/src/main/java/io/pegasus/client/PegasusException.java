package io.pegasus.client;

import java.io.IOException;
import pegasus.wire.ErrorCode;

/**
 * A failure with a stable wire error code ({@link ErrorCode}). Codes the server sends
 * in an {@code Error} answer arrive here unchanged; the client adds
 * {@code CONNECTION_CLOSED} and {@code TIMEOUT} for failures of the connection itself.
 */
public class PegasusException extends IOException {
  private static final long serialVersionUID = 1L;

  private final int code;

  public PegasusException(int code, String message) {
    super(message);
    this.code = code;
  }

  public PegasusException(int code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  /** A {@link ErrorCode} value. */
  public int code() {
    return code;
  }

  /** {@code ErrorCode.name(code)}, e.g. "UNKNOWN_SHUFFLE"; "UNKNOWN_CODE_n" for codes this client does not know. */
  public String codeName() {
    return codeName(code);
  }

  /** True for CONNECTION_CLOSED and TIMEOUT: the request may succeed on a new connection. */
  public boolean isConnectionFailure() {
    return code == ErrorCode.CONNECTION_CLOSED || code == ErrorCode.TIMEOUT;
  }

  static String codeName(int code) {
    return code >= 0 && code < ErrorCode.names.length ? ErrorCode.name(code) : "UNKNOWN_CODE_" + code;
  }

  @Override
  public String toString() {
    return getClass().getName() + " [" + codeName() + "]: " + getMessage();
  }
}
