package org.apache.spark.shuffle.pegasus;

import java.io.Serializable;
import java.util.List;

/**
 * Which server holds which partition of one shuffle. Partition p of shuffle s lives on
 * server (p + s) mod n: every server gets an equal share of each shuffle, and the offset by
 * shuffle id keeps small shuffles from all landing on the first server. Decided on the
 * driver and shipped to tasks inside the shuffle handle, so every task agrees.
 */
final class PartitionPlacement implements Serializable {
  private static final long serialVersionUID = 1L;

  private final List<String> servers;
  private final int offset;

  PartitionPlacement(List<String> servers, int shuffleId) {
    if (servers.isEmpty()) throw new IllegalArgumentException("no servers");
    this.servers = List.copyOf(servers);
    this.offset = Math.floorMod(shuffleId, servers.size());
  }

  int serverCount() {
    return servers.size();
  }

  String server(int index) {
    return servers.get(index);
  }

  List<String> servers() {
    return servers;
  }

  int serverOf(int partition) {
    return (int) ((partition + (long) offset) % servers.size());
  }

  /** Servers holding at least one partition of [start, end), in index order. */
  boolean[] serversOf(int start, int end) {
    boolean[] used = new boolean[servers.size()];
    for (int p = start; p < end && p - start < servers.size(); p++) used[serverOf(p)] = true;
    return used;
  }
}
