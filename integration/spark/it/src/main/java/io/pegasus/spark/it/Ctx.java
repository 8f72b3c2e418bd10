package io.pegasus.spark.it;

import java.nio.file.Path;
import java.util.Map;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/** What a scenario body gets: the session of its (master, mode, group), and helpers. */
final class Ctx {
  final SparkSession spark;
  final JavaSparkContext jsc;
  final Probe probe;
  final String mode;
  final boolean cluster;
  final Path localDir;
  /** Null in built-in mode. */
  final PegasusAdmin pegasus;

  Ctx(SparkSession spark, Probe probe, String mode, boolean cluster, Path localDir, PegasusAdmin pegasus) {
    this.spark = spark;
    this.jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    this.probe = probe;
    this.mode = mode;
    this.cluster = cluster;
    this.localDir = localDir;
    this.pegasus = pegasus;
  }

  boolean pegasusMode() {
    return pegasus != null;
  }

  /** A session of its own (same SparkContext, fresh SQL conf) with the given SQL settings. */
  SparkSession sql(Map<String, String> conf) {
    SparkSession s = spark.newSession();
    conf.forEach((k, v) -> s.conf().set(k, v));
    return s;
  }
}
