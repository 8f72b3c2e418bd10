package io.pegasus.hadoop;

import io.pegasus.client.ObjectReader;
import io.pegasus.client.PegasusException;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.Objects;
import org.apache.hadoop.fs.FSExceptionMessages;
import org.apache.hadoop.fs.FSInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.StreamCapabilities;
import pegasus.wire.ErrorCode;

/**
 * An open pegasus:// file: Seekable, PositionedReadable and buffered.
 *
 * <p>The file was stat'ed once at open and its id pinned ({@link ObjectReader}): every
 * read, sequential or positioned, reads that file's bytes or fails (FileNotFoundException
 * when the path names another file or nothing now), never another file's. Sequential
 * reads go through one buffer of {@code fs.pegasus.read.buffer.bytes}: a read() outside
 * it fetches the buffer's length from the position (one OpenObject stream, the read
 * credit driving it); a read of at least the buffer's length goes to the caller's array
 * directly. Positioned reads (read(long, ...), readFully(long, ...)) are served from the
 * buffer when it holds the range, else go to the caller's array in one stream of exactly
 * the range; they never move the position or refill the buffer, so they may run on
 * several threads beside a sequential reader (the stream itself is not thread-safe for
 * sequential reads, as no Hadoop stream is).
 *
 * <p>seek() past the end fails with EOFException (contract option
 * rejects-seek-past-eof); reads past the end return -1; a closed stream fails every call
 * but close() with an IOException.
 */
final class PegasusInputStream extends FSInputStream implements StreamCapabilities {
  private final PegasusFileSystem fs;
  private final int server;
  private final String path;
  private final long length;
  private final int bufferBytes;
  private final FileSystem.Statistics statistics;
  private volatile ObjectReader reader;

  private long pos;
  private byte[] buffer;
  /** File offset of buffer[0] and the bytes it holds. */
  private long bufferStart;
  private int bufferLength;
  private volatile boolean closed;

  PegasusInputStream(PegasusFileSystem fs, int server, ObjectReader reader, int bufferBytes,
      FileSystem.Statistics statistics) {
    this.fs = fs;
    this.server = server;
    this.reader = reader;
    this.path = reader.path();
    this.length = reader.length();
    this.bufferBytes = bufferBytes;
    this.statistics = statistics;
  }

  private void checkNotClosed() throws IOException {
    if (closed) throw new IOException(path + ": " + FSExceptionMessages.STREAM_IS_CLOSED);
  }

  @Override
  public synchronized void seek(long target) throws IOException {
    checkNotClosed();
    if (target < 0) throw new EOFException(FSExceptionMessages.NEGATIVE_SEEK + " " + target + " in " + path);
    if (target > length) {
      throw new EOFException(FSExceptionMessages.CANNOT_SEEK_PAST_EOF + ": " + target + " in " + path + " of " + length
          + " bytes");
    }
    pos = target;
  }

  @Override
  public synchronized long getPos() throws IOException {
    return pos;
  }

  @Override
  public boolean seekToNewSource(long targetPos) {
    return false; // one copy
  }

  @Override
  public synchronized int available() throws IOException {
    checkNotClosed();
    long inBuffer = bufferStart + bufferLength - pos;
    return pos >= bufferStart && inBuffer > 0 ? (int) inBuffer : 0;
  }

  @Override
  public synchronized int read() throws IOException {
    checkNotClosed();
    if (pos >= length) return -1;
    if (!buffered(pos)) fill(pos);
    int b = buffer[(int) (pos - bufferStart)] & 0xff;
    pos++;
    return b;
  }

  @Override
  public synchronized int read(byte[] b, int off, int len) throws IOException {
    checkNotClosed();
    Objects.checkFromIndexSize(off, len, b.length);
    if (len == 0) return 0;
    if (pos >= length) return -1;
    int n = (int) Math.min(len, length - pos);
    if (buffered(pos)) {
      n = Math.min(n, (int) (bufferStart + bufferLength - pos));
      System.arraycopy(buffer, (int) (pos - bufferStart), b, off, n);
    } else if (n >= bufferBytes) {
      fetch(pos, b, off, n);
    } else {
      fill(pos);
      n = Math.min(n, bufferLength);
      System.arraycopy(buffer, 0, b, off, n);
    }
    pos += n;
    return n;
  }

  @Override
  public int read(long position, byte[] b, int off, int len) throws IOException {
    checkNotClosed();
    validatePositionedReadArgs(position, b, off, len);
    if (len == 0) return 0;
    if (position >= length) return -1;
    int n = (int) Math.min(len, length - position);
    if (copyFromBuffer(position, b, off, n)) return n;
    fetch(position, b, off, n);
    return n;
  }

  @Override
  public void readFully(long position, byte[] b, int off, int len) throws IOException {
    checkNotClosed();
    validatePositionedReadArgs(position, b, off, len);
    if (len == 0) return;
    if (position + len > length) {
      throw new EOFException(FSExceptionMessages.EOF_IN_READ_FULLY + ": " + len + " bytes at " + position + " of " + path
          + ", which has " + length);
    }
    if (copyFromBuffer(position, b, off, len)) return;
    fetch(position, b, off, len);
  }

  /** Copies [position, position + n) from the buffer if it holds all of it. */
  private synchronized boolean copyFromBuffer(long position, byte[] b, int off, int n) {
    if (buffer == null || position < bufferStart || position + n > bufferStart + bufferLength) return false;
    System.arraycopy(buffer, (int) (position - bufferStart), b, off, n);
    return true;
  }

  private boolean buffered(long at) {
    return buffer != null && at >= bufferStart && at < bufferStart + bufferLength;
  }

  /** Reads from {@code at} into the buffer, as much as it holds or the file has. */
  private void fill(long at) throws IOException {
    int n = (int) Math.min(bufferBytes, length - at);
    if (buffer == null) buffer = new byte[(int) Math.min(bufferBytes, Math.max(1, length))];
    bufferLength = 0; // a failed fill leaves nothing half-valid behind
    fetch(at, buffer, 0, n);
    bufferStart = at;
    bufferLength = n;
  }

  /**
   * Reads exactly [at, at + n) of the pinned file from the server into {@code b}; once
   * more on a new connection if the connection was lost (the pin makes that safe).
   */
  private void fetch(long at, byte[] b, int off, int n) throws IOException {
    ObjectReader r = reader;
    int got;
    try {
      got = readOnce(r, at, b, off, n);
    } catch (PegasusException e) {
      if (!ServerSet.isConnectionLost(e) || closed) throw translate(e);
      r = r.on(fs.servers().connection(server));
      reader = r;
      try {
        got = readOnce(r, at, b, off, n);
      } catch (PegasusException e2) {
        throw translate(e2);
      }
    }
    if (got != n) {
      // The pinned file has the length stat'ed at open: a short read is a server fault.
      throw new IOException("read of " + path + " [" + at + "," + (at + n) + ") returned " + got + " bytes");
    }
    if (statistics != null) {
      statistics.incrementBytesRead(n);
      statistics.incrementReadOps(1);
    }
  }

  private static int readOnce(ObjectReader r, long at, byte[] b, int off, int n) throws PegasusException {
    return r.read(at, b, off, n);
  }

  private IOException translate(PegasusException e) {
    if (e.code() == ErrorCode.NOT_FOUND) {
      FileNotFoundException f = new FileNotFoundException(path + " was deleted or replaced after it was opened: "
          + e.getMessage());
      f.initCause(e);
      return f;
    }
    return PegasusErrors.translate(e, path);
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    synchronized (this) {
      buffer = null;
      bufferLength = 0;
    }
  }

  /** No capability is claimed: no unbuffer, no readahead setting, no ByteBuffer reads. */
  @Override
  public boolean hasCapability(String capability) {
    return false;
  }

  @Override
  public String toString() {
    return "PegasusInputStream{" + path + ", " + length + " bytes, pos " + pos + (closed ? ", closed" : "") + "}";
  }
}
