package io.pegasus.flink.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.util.List;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.fs.FSDataOutputStream;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.FileSystemBehaviorTestSuite;
import org.apache.flink.core.fs.FileSystemKind;
import org.apache.flink.core.fs.Path;
import org.apache.flink.core.plugin.DefaultPluginManager;
import org.apache.flink.core.plugin.DirectoryBasedPluginFinder;
import org.apache.flink.core.plugin.PluginManager;
import org.apache.flink.util.WrappingProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * FileSystemBehaviorTestSuite through the plugin jar itself, as a Flink distribution loads it:
 * the jar in plugins/pegasus/, found by Flink's DirectoryBasedPluginFinder and loaded by its
 * plugin class loader. Run by the pom in the package phase, after the shade, on a class path
 * with Flink and the tests but neither this module's classes, nor Hadoop, nor Pegasus: every
 * class the file system needs must come from the jar.
 */
class PegasusFileSystemPluginJarTest extends FileSystemBehaviorTestSuite {
  private static TestServer server;
  private static java.nio.file.Path pluginsDir;
  private static FileSystem fs;

  @BeforeAll
  static void installPlugin() throws Exception {
    String jar = System.getProperty("pegasus.flink.pluginJar");
    // Set by the pom's package-phase execution only; a run by hand with -Dtest skips this class.
    assumeTrue(jar != null, "system property pegasus.flink.pluginJar (the pom sets it after the shade)");
    java.nio.file.Path jarPath = java.nio.file.Paths.get(jar);
    assertThat(jarPath).as("the plugin jar (built by the shade before this test)").isRegularFile();
    server = TestServer.start();
    pluginsDir = Files.createTempDirectory("pegasus-flink-plugins-");
    java.nio.file.Path pluginDir = Files.createDirectories(pluginsDir.resolve("pegasus"));
    Files.copy(jarPath, pluginDir.resolve(jarPath.getFileName()));

    Configuration conf = new Configuration();
    // Through the mapping, under the short spelling: a small read buffer (the suite's files are small).
    conf.setString("pegasus.read.buffer.bytes", "65536");
    PluginManager plugins = new DefaultPluginManager(new DirectoryBasedPluginFinder(pluginsDir).findPlugins(),
        CoreOptions.getPluginParentFirstLoaderPatterns(conf));
    FileSystem.initialize(conf, plugins);
    fs = new Path("pegasus://" + server.address() + "/").getFileSystem();
  }

  @AfterAll
  static void stopServer() {
    try {
      if (server != null) server.close();
    } finally {
      if (pluginsDir != null) TestServer.deleteTree(pluginsDir);
    }
  }

  @Override
  protected FileSystem getFileSystem() {
    return fs;
  }

  @Override
  protected Path getBasePath() {
    return new Path("pegasus://" + server.address() + "/flink-plugin-jar");
  }

  @Override
  protected FileSystemKind getFileSystemKind() {
    return FileSystemKind.FILE_SYSTEM;
  }

  @Test
  void hadoopAndPegasusAreNotOnTheTestClassPath() {
    for (String name : List.of("org.apache.hadoop.fs.FileSystem", "io.pegasus.hadoop.PegasusFileSystem",
        "io.pegasus.flink.fs.PegasusFileSystemFactory", "org.apache.flink.runtime.fs.hdfs.HadoopFileSystem")) {
      assertThatThrownBy(() -> Class.forName(name)).as(name).isInstanceOf(ClassNotFoundException.class);
    }
  }

  @Test
  void theSchemeIsServedFromThePluginJarWithFlinksHadoopAdapterRelocated() {
    assertThat(fs).isInstanceOf(WrappingProxy.class);
    @SuppressWarnings("unchecked")
    Object inner = ((WrappingProxy<FileSystem>) fs).getWrappedDelegate();
    assertThat(inner.getClass().getName()).isEqualTo("io.pegasus.flink.shaded.hdfs.HadoopFileSystem");
    assertThat(inner.getClass().getClassLoader()).isNotSameAs(getClass().getClassLoader());
  }

  @Test
  void aFileWrittenThroughThePluginReadsBackWhole() throws Exception {
    Path file = new Path(getBasePath(), "whole-" + System.nanoTime());
    byte[] data = new byte[300_000]; // several read buffers of 64 KiB
    for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 31 + 7);
    try (FSDataOutputStream out = fs.create(file, FileSystem.WriteMode.NO_OVERWRITE)) {
      out.write(data);
    }
    ByteArrayOutputStream back = new ByteArrayOutputStream();
    try (FSDataInputStream in = fs.open(file)) {
      in.transferTo(back);
    }
    assertThat(back.toByteArray()).isEqualTo(data);
    assertThat(fs.getFileStatus(file).getLen()).isEqualTo(data.length);
    assertThat(fs.delete(file, false)).isTrue();
  }
}
