package io.pegasus.flink.fs;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.FileSystemBehaviorTestSuite;
import org.apache.flink.core.fs.FileSystemKind;
import org.apache.flink.core.fs.Path;
import org.apache.flink.runtime.fs.hdfs.HadoopFileSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Flink's own FileSystemBehaviorTestSuite on pegasus:// against a real server, with the
 * factory found on the class path (META-INF/services), as Flink finds a file system in lib/.
 * {@link PegasusFileSystemPluginJarTest} runs the same suite through the plugin jar.
 */
class PegasusFileSystemBehaviorTest extends FileSystemBehaviorTestSuite {
  private static TestServer server;
  private static FileSystem fs;

  @BeforeAll
  static void startServer() throws Exception {
    server = TestServer.start();
    FileSystem.initialize(new Configuration(), null);
    fs = new Path("pegasus://" + server.address() + "/").getFileSystem();
  }

  @AfterAll
  static void stopServer() throws Exception {
    try {
      if (fs != null) ((HadoopFileSystem) fs).getHadoopFileSystem().close();
    } finally {
      if (server != null) server.close();
    }
  }

  @Override
  protected FileSystem getFileSystem() {
    return fs;
  }

  @Override
  protected Path getBasePath() {
    return new Path("pegasus://" + server.address() + "/flink-behavior");
  }

  @Override
  protected FileSystemKind getFileSystemKind() {
    return FileSystemKind.FILE_SYSTEM;
  }
}
