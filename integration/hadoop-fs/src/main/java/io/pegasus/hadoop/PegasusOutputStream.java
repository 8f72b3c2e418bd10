package io.pegasus.hadoop;

import io.pegasus.client.ObjectWriter;
import io.pegasus.client.PegasusException;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Objects;
import org.apache.hadoop.fs.FSExceptionMessages;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.StreamCapabilities;

/**
 * A pegasus:// file being written: an {@link ObjectWriter} (bytes buffered into chunks
 * of {@code fs.pegasus.write.chunk.bytes}, sent as AppendObject requests pipelined in the
 * push window). Nothing is visible before {@link #close()}, which is CloseObject: when
 * it returns, the whole file is durable and every reader sees it (close-to-open);
 * if it throws, nothing is visible.
 *
 * <p>hflush and hsync are not offered: this class is not {@code Syncable}, and
 * {@link #hasCapability} answers false for {@code hflush}, {@code hsync} and everything
 * else. {@code FSDataOutputStream.hflush()/hsync()} therefore fall back to
 * {@link #flush()}, which sends nothing and makes nothing visible or durable; callers that
 * need either before close must check the capability first (as Hadoop asks them to).
 */
final class PegasusOutputStream extends OutputStream implements StreamCapabilities {
  private final ObjectWriter writer;
  private final String path;
  private final FileSystem.Statistics statistics;
  private boolean closed;
  /** A write failed: the object was dropped, and close() says so again. */
  private IOException failure;

  PegasusOutputStream(ObjectWriter writer, String path, FileSystem.Statistics statistics) {
    this.writer = writer;
    this.path = path;
    this.statistics = statistics;
  }

  private void checkNotClosed() throws IOException {
    if (failure != null) throw new IOException(path + ": an earlier write failed: " + failure.getMessage(), failure);
    if (closed) throw new IOException(path + ": " + FSExceptionMessages.STREAM_IS_CLOSED);
  }

  @Override
  public synchronized void write(int b) throws IOException {
    checkNotClosed();
    try {
      writer.write(b);
    } catch (PegasusException e) {
      throw failed(e);
    }
    if (statistics != null) statistics.incrementBytesWritten(1);
  }

  @Override
  public synchronized void write(byte[] b, int off, int len) throws IOException {
    Objects.checkFromIndexSize(off, len, b.length);
    checkNotClosed();
    try {
      writer.write(b, off, len);
    } catch (PegasusException e) {
      throw failed(e);
    }
    if (statistics != null) statistics.incrementBytesWritten(len);
  }

  /** Sends nothing: bytes become visible and durable only at close(). */
  @Override
  public void flush() {
  }

  /** CloseObject: the file becomes durable and visible, or the exception says why it did not. Idempotent. */
  @Override
  public synchronized void close() throws IOException {
    if (closed) return;
    closed = true;
    if (failure != null) throw new IOException(path + " was not written: " + failure.getMessage(), failure);
    try {
      writer.close();
    } catch (PegasusException e) {
      throw PegasusErrors.translate(e, path);
    }
    if (statistics != null) statistics.incrementWriteOps(1);
  }

  private IOException failed(PegasusException e) {
    writer.abort(); // nothing of it may become visible; the server drops it
    failure = PegasusErrors.translate(e, path);
    return failure;
  }

  /** None: no hflush, no hsync (see the class comment), no IOStatistics. */
  @Override
  public boolean hasCapability(String capability) {
    return false;
  }

  @Override
  public String toString() {
    return "PegasusOutputStream{" + writer + "}";
  }
}
