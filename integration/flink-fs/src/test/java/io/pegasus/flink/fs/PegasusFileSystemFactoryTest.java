package io.pegasus.flink.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pegasus.hadoop.PegasusFileSystem;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.fs.FSDataOutputStream;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.apache.flink.runtime.fs.hdfs.HadoopFileSystem;
import org.junit.jupiter.api.Test;

/** The factory's configuration: Flink keys onto the Hadoop keys of PegasusConfigKeys. */
class PegasusFileSystemFactoryTest {
  private static PegasusFileSystemFactory factory(Map<String, String> keys) {
    PegasusFileSystemFactory f = new PegasusFileSystemFactory();
    f.configure(Configuration.fromMap(keys));
    return f;
  }

  @Test
  void bothSpellingsMapOntoTheHadoopKeys() throws IOException {
    PegasusFlinkConfig c = PegasusFlinkConfig.from(Map.of(
        "pegasus.read.buffer.bytes", "65536",
        "fs.pegasus.write.chunk.bytes", "8192",
        "state.backend.type", "hashmap"));
    assertThat(c.hadoopValues()).containsExactlyInAnyOrderEntriesOf(Map.of(
        "fs.pegasus.read.buffer.bytes", "65536",
        "fs.pegasus.write.chunk.bytes", "8192"));
    org.apache.hadoop.conf.Configuration h = c.toHadoop();
    assertThat(h.get("fs.pegasus.read.buffer.bytes")).isEqualTo("65536");
    assertThat(h.get("fs.pegasus.write.chunk.bytes")).isEqualTo("8192");
  }

  @Test
  void serversGivenAsAFlinkListBecomeHadoopsCommaSeparatedList() {
    Configuration flink = new Configuration();
    flink.set(ConfigOptions.key("pegasus.servers").stringType().asList().noDefaultValue(), List.of("a:9527", "b:9527"));
    assertThat(PegasusFlinkConfig.from(flink.toMap()).hadoopValues())
        .containsEntry("fs.pegasus.servers", "a:9527,b:9527");
    for (String given : List.of("a:9527;b:9527", "['a:9527', 'b:9527']", "[\"a:9527\",\"b:9527\"]", " a:9527 , b:9527 ")) {
      assertThat(PegasusFlinkConfig.serverList(given)).as(given).isEqualTo("a:9527,b:9527");
    }
  }

  @Test
  void aMisspeltFsPegasusKeyFailsCreationWithItsName() {
    PegasusFileSystemFactory f = factory(Map.of("fs.pegasus.read.bufer.bytes", "65536"));
    assertThatThrownBy(() -> f.create(URI.create("pegasus://127.0.0.1:1/")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("fs.pegasus.read.bufer.bytes is not a pegasus:// key")
        .hasMessageContaining("fs.pegasus.read.buffer.bytes");
  }

  @Test
  void anUnknownShortKeyIsLeftToPegasussOtherPlugins() {
    assertThat(PegasusFlinkConfig.from(Map.of("pegasus.shuffle.servers", "a:1")).hadoopValues()).isEmpty();
  }

  @Test
  void twoSpellingsOfOneKeyThatDisagreeAreRefused() {
    PegasusFileSystemFactory f = factory(Map.of(
        "pegasus.read.buffer.bytes", "65536", "fs.pegasus.read.buffer.bytes", "131072"));
    assertThatThrownBy(() -> f.create(URI.create("pegasus://127.0.0.1:1/")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("fs.pegasus.read.buffer.bytes = 131072 and pegasus.read.buffer.bytes = 65536 disagree");
  }

  @Test
  void aValueOutOfBoundsFailsCreationWithTheKeysName() {
    PegasusFileSystemFactory f = factory(Map.of("pegasus.write.chunk.bytes", "1"));
    assertThatThrownBy(() -> f.create(URI.create("pegasus://127.0.0.1:1/")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("fs.pegasus.write.chunk.bytes = 1 is not in");
  }

  @Test
  void serversFromFlinksConfigurationServeAUriThatOnlyNamesTheCluster() throws Exception {
    try (TestServer server = TestServer.start()) {
      FileSystem fs = factory(Map.of("pegasus.servers", server.address())).create(URI.create("pegasus://cluster/"));
      try {
        assertThat(fs).isInstanceOf(HadoopFileSystem.class);
        assertThat(((HadoopFileSystem) fs).getHadoopFileSystem()).isInstanceOf(PegasusFileSystem.class);
        Path file = new Path("pegasus://cluster/ha/job-graph-1");
        byte[] data = "job graph".getBytes(StandardCharsets.UTF_8);
        try (FSDataOutputStream out = fs.create(file, FileSystem.WriteMode.NO_OVERWRITE)) {
          out.write(data);
        }
        try (FSDataInputStream in = fs.open(file)) {
          assertThat(in.readAllBytes()).isEqualTo(data);
        }
        assertThat(fs.getFileStatus(new Path("pegasus://cluster/ha")).isDir()).isTrue();
      } finally {
        ((HadoopFileSystem) fs).getHadoopFileSystem().close();
      }
      // No authority at all (pegasus:///ha, as in a config that names no cluster): the same servers.
      FileSystem bare = factory(Map.of("pegasus.servers", server.address())).create(URI.create("pegasus:///"));
      try {
        assertThat(bare.getFileStatus(new Path("pegasus:///ha/job-graph-1")).getLen()).isEqualTo(9);
        assertThat(bare.exists(new Path("/ha/job-graph-1"))).isTrue();
      } finally {
        ((HadoopFileSystem) bare).getHadoopFileSystem().close();
      }
    }
  }
}
