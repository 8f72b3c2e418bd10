package io.pegasus.hadoop;

import io.pegasus.client.PegasusException;
import java.io.FileNotFoundException;
import java.io.IOException;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.ParentNotDirectoryException;
import org.apache.hadoop.fs.PathIOException;
import org.apache.hadoop.fs.PathIsNotEmptyDirectoryException;
import pegasus.wire.ErrorCode;

/**
 * The server's error codes as the exceptions Hadoop's FileSystem specification names
 * (filesystem.md): NOT_FOUND is FileNotFoundException, ALREADY_EXISTS
 * FileAlreadyExistsException, NOT_A_DIRECTORY (an ancestor is a file)
 * ParentNotDirectoryException, DIRECTORY_NOT_EMPTY PathIsNotEmptyDirectoryException,
 * INVALID_PATH a PathIOException. Every translated exception keeps the
 * {@link PegasusException} (with its code) as its cause; other codes are thrown as the
 * PegasusException itself, an IOException.
 */
final class PegasusErrors {
  private PegasusErrors() {}

  static IOException translate(PegasusException e, String path) {
    IOException out;
    switch (e.code()) {
      case ErrorCode.NOT_FOUND:
        out = new FileNotFoundException(path + ": " + e.getMessage());
        break;
      case ErrorCode.ALREADY_EXISTS:
        out = new FileAlreadyExistsException(path + ": " + e.getMessage());
        break;
      case ErrorCode.IS_A_DIRECTORY:
        // Hadoop: creating a file over a directory is FileAlreadyExistsException (open() says FileNotFoundException itself).
        out = new FileAlreadyExistsException(path + " is a directory: " + e.getMessage());
        break;
      case ErrorCode.NOT_A_DIRECTORY:
        out = new ParentNotDirectoryException(path + ": " + e.getMessage());
        break;
      case ErrorCode.DIRECTORY_NOT_EMPTY:
        out = new PathIsNotEmptyDirectoryException(path);
        break;
      case ErrorCode.INVALID_PATH:
        out = new PathIOException(path, "invalid path for pegasus:// (" + e.getMessage() + ")");
        break;
      default:
        return e;
    }
    out.initCause(e);
    return out;
  }
}
