package io.pegasus.flink.fs;

import io.pegasus.hadoop.PegasusFileSystem;
import java.io.IOException;
import java.net.URI;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.FileSystemFactory;
import org.apache.flink.runtime.fs.hdfs.HadoopFileSystem;

/**
 * Flink's file systems for {@code pegasus://host:port/path} (or {@code pegasus://name/path}
 * with {@code pegasus.servers} set): each one a {@link PegasusFileSystem} (the Hadoop file
 * system of ../hadoop-fs) behind Flink's {@link HadoopFileSystem}, as Flink's own S3, GCS
 * and Azure plugins do. Flink keeps one per scheme and authority.
 *
 * <p>What Flink gets is what the Hadoop file system offers (its README): a file is visible,
 * whole and durable when its stream's close() returns; rename and recursive delete are
 * atomic (within one server); no append. Kind FILE_SYSTEM. That is what Flink's HA store,
 * checkpoints and savepoints need: each file written once and closed before it is named in
 * metadata. No RecoverableWriter (Flink offers Hadoop's only for hdfs://), so no FileSink.
 *
 * <p>Configuration: {@link PegasusFlinkConfig}; checked when a file system is created, so a
 * bad key fails the first use of a pegasus:// path with the key's name.
 */
public final class PegasusFileSystemFactory implements FileSystemFactory {
  private volatile PegasusFlinkConfig config = PegasusFlinkConfig.from(java.util.Map.of());

  @Override
  public String getScheme() {
    return PegasusFileSystem.SCHEME;
  }

  @Override
  public void configure(Configuration flinkConfig) {
    config = PegasusFlinkConfig.from(flinkConfig.toMap());
  }

  @Override
  public FileSystem create(URI fsUri) throws IOException {
    org.apache.hadoop.conf.Configuration hadoopConf = config.toHadoop();
    PegasusFileSystem fs = new PegasusFileSystem();
    try {
      fs.initialize(fsUri, hadoopConf);
    } catch (IllegalArgumentException e) {
      // A value out of its bounds (PegasusConfigKeys): the message names the key.
      throw new IOException("pegasus:// configuration: " + e.getMessage(), e);
    }
    return new HadoopFileSystem(fs);
  }
}
