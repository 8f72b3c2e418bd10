package io.pegasus.flink.fs;

import io.pegasus.hadoop.PegasusConfigKeys;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;

/**
 * The pegasus:// keys of a Flink configuration, as the Hadoop configuration of
 * {@link io.pegasus.hadoop.PegasusFileSystem}. Flink hands a plugin its whole configuration;
 * each key {@link PegasusConfigKeys} declares may be given there by its own name
 * ({@code fs.pegasus.read.buffer.bytes}) or without the {@code fs.} ({@code
 * pegasus.read.buffer.bytes}), as Flink's S3 plugins take {@code s3.*} for {@code fs.s3a.*}.
 *
 * <p>Every {@code fs.pegasus.*} key must be one of those: a misspelt one fails the file
 * system's creation with its name rather than being ignored. A {@code pegasus.*} key that
 * is not one of them is left alone: that prefix is shared with Pegasus's other Flink
 * plugins. Both spellings of one key with different values are refused. The servers may be
 * a list as Flink writes one (a YAML list, items separated by ';') or as Hadoop does (',').
 */
final class PegasusFlinkConfig {
  static final String HADOOP_PREFIX = "fs.pegasus.";
  static final String SHORT_PREFIX = "pegasus.";

  /** Hadoop key to value, sorted (so errors and logs list them in a stable order). */
  private final Map<String, String> hadoopValues;
  /** Why the configuration cannot be used, or null. Reported by {@link #toHadoop()}. */
  private final String error;

  private PegasusFlinkConfig(Map<String, String> hadoopValues, String error) {
    this.hadoopValues = hadoopValues;
    this.error = error;
  }

  static PegasusFlinkConfig from(Map<String, String> flinkConf) {
    Map<String, String> known = new TreeMap<>();
    for (PegasusConfigKeys.Key k : PegasusConfigKeys.ALL) known.put(k.name, k.name);
    Map<String, String> values = new TreeMap<>();
    Map<String, String> givenAs = new TreeMap<>();
    List<String> problems = new ArrayList<>();
    for (Map.Entry<String, String> e : new TreeMap<>(flinkConf).entrySet()) {
      String flinkKey = e.getKey();
      String hadoopKey;
      if (flinkKey.startsWith(HADOOP_PREFIX)) {
        hadoopKey = flinkKey;
        if (!known.containsKey(hadoopKey)) {
          problems.add(flinkKey + " is not a pegasus:// key (known: " + String.join(", ", known.keySet()) + ")");
          continue;
        }
      } else if (flinkKey.startsWith(SHORT_PREFIX) && known.containsKey("fs." + flinkKey)) {
        hadoopKey = "fs." + flinkKey;
      } else {
        continue;
      }
      String value = e.getValue() == null ? "" : e.getValue().trim();
      if (hadoopKey.equals(PegasusConfigKeys.SERVERS.name)) value = serverList(value);
      String previous = values.putIfAbsent(hadoopKey, value);
      if (previous != null && !previous.equals(value)) {
        problems.add(givenAs.get(hadoopKey) + " = " + previous + " and " + flinkKey + " = " + value
            + " disagree (one key, two spellings)");
      }
      givenAs.putIfAbsent(hadoopKey, flinkKey);
    }
    return new PegasusFlinkConfig(values, problems.isEmpty() ? null : String.join("; ", problems));
  }

  /**
   * {@code host:port} items separated by ',' (Hadoop's list), from any way Flink renders a list
   * option in its configuration map: a YAML flow list such as {@code ['a:9527', 'b:9527']}
   * (config.yaml; Configuration.toMap() of Flink 1.20.5 and 2.3.0 both give this), items
   * separated by ';' (the legacy flink-conf.yaml of Flink 1.x), or a plain ',' list. Items keep
   * their order: it chooses each path's server.
   */
  static String serverList(String value) {
    String v = value.trim();
    if (v.startsWith("[") && v.endsWith("]")) v = v.substring(1, v.length() - 1);
    List<String> items = new ArrayList<>();
    for (String item : v.split("[,;]")) {
      String t = item.trim();
      if (t.length() >= 2 && (t.charAt(0) == '\'' || t.charAt(0) == '"') && t.charAt(t.length() - 1) == t.charAt(0)) {
        t = t.substring(1, t.length() - 1).trim();
      }
      if (!t.isEmpty()) items.add(t);
    }
    return String.join(",", items);
  }

  /** The Hadoop keys and values taken from the Flink configuration. */
  Map<String, String> hadoopValues() {
    return hadoopValues;
  }

  /**
   * A fresh Hadoop configuration (Hadoop's defaults from the plugin's own core-default.xml,
   * then these keys), or an IOException naming every bad key.
   */
  Configuration toHadoop() throws IOException {
    if (error != null) throw new IOException("pegasus:// configuration: " + error);
    Configuration conf = new Configuration();
    hadoopValues.forEach((k, v) -> conf.set(k, v, "Flink configuration"));
    return conf;
  }
}
