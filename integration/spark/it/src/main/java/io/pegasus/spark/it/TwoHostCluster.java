package io.pegasus.spark.it;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.spark.SparkConf;
import org.apache.spark.deploy.master.Master;
import org.apache.spark.deploy.worker.Worker;
import org.apache.spark.rpc.RpcEnv;

import scala.Option;
import scala.Tuple3;

/**
 * What Spark's local-cluster mode does (an in-process standalone Master and Workers, each
 * Worker launching real executor JVMs from SPARK_HOME), except that each Worker gets its own
 * loopback address (127.0.0.2, 127.0.0.3, ...).
 *
 * <p>Needed for speculation: Spark never launches a speculative copy of a task on a host that
 * already ran an attempt of it (TaskSetManager.hasAttemptOnHost), every local-cluster executor
 * is on the same host, and local[...] mode never speculates at all (TaskSchedulerImpl starts
 * its speculation checker only when not local).
 */
final class TwoHostCluster implements AutoCloseable {
  private final List<RpcEnv> masterEnvs = new ArrayList<>();
  private final List<RpcEnv> workerEnvs = new ArrayList<>();
  final String masterUrl;

  TwoHostCluster(int workers, int coresPerWorker, int memoryMbPerWorker, SparkConf base, Path workDir) {
    SparkConf conf = base.clone()
        .set("spark.master.rest.enabled", "false")
        .set("spark.shuffle.service.enabled", "false")
        .set("spark.ui.enabled", "false");
    Tuple3<RpcEnv, Object, Option<Object>> master = Master.startRpcEnvAndEndpoint("127.0.0.1", 0, 0, conf);
    masterEnvs.add(master._1());
    masterUrl = "spark://127.0.0.1:" + master._1().address().port();
    try {
      for (int i = 1; i <= workers; i++) {
        String host = "127.0.0." + (i + 1);
        RpcEnv env = Worker.startRpcEnvAndEndpoint(host, 0, 0, coresPerWorker, memoryMbPerWorker,
            new String[] {masterUrl}, workDir.resolve("worker-" + i).toString(),
            Option.apply((Object) Integer.valueOf(i)), conf, Option.empty());
        workerEnvs.add(env);
      }
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  @Override
  public void close() {
    for (RpcEnv env : workerEnvs) env.shutdown();
    for (RpcEnv env : workerEnvs) env.awaitTermination();
    for (RpcEnv env : masterEnvs) env.shutdown();
    for (RpcEnv env : masterEnvs) env.awaitTermination();
    workerEnvs.clear();
    masterEnvs.clear();
  }
}
