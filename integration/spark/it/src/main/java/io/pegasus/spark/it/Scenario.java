package io.pegasus.spark.it;

import java.util.List;

/**
 * One named test. Its body runs against one SparkSession (built-in shuffle or Pegasus), checks
 * what it can on its own (against values computed in plain Java, plan shapes, listener counts)
 * and returns its result as canonical lines: the harness requires the lines of every mode to be
 * exactly equal. A body sorts its lines unless their order is part of the result (sortByKey).
 */
record Scenario(String name, Group group, Body body) {
  /** Scenarios of one group share a pair of sessions (one per mode) with the group's settings. */
  enum Group {
    /** Java serializer, the master under test. */
    DEFAULT,
    /** spark.serializer=KryoSerializer; local[...] master only. */
    KRYO,
    /** spark.speculation=true on a {@link TwoHostCluster}; run in the local-cluster column only. */
    SPECULATION,
    /**
     * Pegasus mode reads from a server of its own that cuts the connection of the first
     * read stream of every range (PEGASUS_FAULT_READ_CUTS=1); local[...] master only.
     */
    READ_CUTS
  }

  interface Body {
    List<String> run(Ctx ctx) throws Exception;
  }
}
