package io.pegasus.spark.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The benchmark's small-query set: TPC-H-like tables (region, nation, supplier, customer,
 * part, orders, lineitem; about 140 MB as uncompressed Parquet) generated deterministically
 * with Spark SQL expressions, and eight queries shaped like TPC-H's Q1, Q3, Q5, Q10, Q12,
 * Q13, Q14 and Q18 (scans, filters, shuffled joins, broadcast joins, aggregations, sorts).
 * Money is DECIMAL, so sums and averages are exact and the results cannot depend on the
 * order in which a shuffle delivers records: each query's rows are hashed (order-insensitively)
 * into a check that must be the same in both modes.
 *
 * <p>Not TPC-H: the value distributions are simple hashes, not dbgen's, and the numbers are
 * not comparable with published results. What matters here is the shape: several small
 * shuffles per query, so that per-shuffle and per-task fixed costs show.
 */
final class SmallQueries {
  private SmallQueries() {}

  /** Orders at the default size; lineitem has 4 lines per order on average. */
  static final long ORDERS = 500_000;
  static final String[] TABLES = {"region", "nation", "supplier", "customer", "part", "orders", "lineitem"};

  /** Writes the tables under {@code dir} unless a previous run finished writing them there. */
  static void generate(SparkSession spark, Path dir) throws IOException {
    Path done = dir.resolve("_tables_complete");
    if (Files.exists(done)) return;
    long orders = ORDERS;
    long customers = orders / 10;
    long parts = orders * 2 / 15;
    long suppliers = orders / 150;
    Map<String, String> sql = new LinkedHashMap<>();
    sql.put("region", "SELECT id AS r_regionkey, element_at(array('AFRICA','AMERICA','ASIA','EUROPE','MIDDLE EAST'), "
        + "CAST(id AS INT) + 1) AS r_name FROM range(5)");
    sql.put("nation", "SELECT id AS n_nationkey, concat('NATION_', CAST(id AS STRING)) AS n_name, "
        + "pmod(id * 7, 5) AS n_regionkey FROM range(25)");
    sql.put("supplier", "SELECT id AS s_suppkey, concat('Supplier#', lpad(CAST(id AS STRING), 9, '0')) AS s_name, "
        + "pmod(xxhash64(id, 11), 25) AS s_nationkey, "
        + money("id", 12, 1100000, -100000) + " AS s_acctbal FROM range(" + suppliers + ")");
    sql.put("customer", "SELECT id AS c_custkey, concat('Customer#', lpad(CAST(id AS STRING), 9, '0')) AS c_name, "
        + "pmod(xxhash64(id, 21), 25) AS c_nationkey, "
        + "element_at(array('AUTOMOBILE','BUILDING','FURNITURE','HOUSEHOLD','MACHINERY'), "
        + "CAST(pmod(xxhash64(id, 22), 5) AS INT) + 1) AS c_mktsegment, "
        + money("id", 23, 1100000, -100000) + " AS c_acctbal FROM range(" + customers + ")");
    sql.put("part", "SELECT id AS p_partkey, concat('part ', CAST(pmod(xxhash64(id, 31), 1000) AS STRING)) AS p_name, "
        + "concat(element_at(array('PROMO','STANDARD','SMALL','MEDIUM','LARGE','ECONOMY'), "
        + "CAST(pmod(xxhash64(id, 32), 6) AS INT) + 1), ' BRASS') AS p_type, "
        + "concat('Brand#', CAST(pmod(xxhash64(id, 33), 50) AS STRING)) AS p_brand, "
        + "CAST(pmod(xxhash64(id, 34), 50) + 1 AS INT) AS p_size, "
        + money("id", 35, 100000, 90000) + " AS p_retailprice FROM range(" + parts + ")");
    sql.put("orders", "SELECT id AS o_orderkey, pmod(xxhash64(id, 41), " + customers + ") AS o_custkey, "
        + "element_at(array('F','O','P'), CAST(pmod(xxhash64(id, 42), 3) AS INT) + 1) AS o_orderstatus, "
        + money("id", 43, 50000000, 100000) + " AS o_totalprice, "
        + "date_add(DATE'1992-01-01', CAST(pmod(xxhash64(id, 44), 2400) AS INT)) AS o_orderdate, "
        + "element_at(array('1-URGENT','2-HIGH','3-MEDIUM','4-NOT SPECIFIED','5-LOW'), "
        + "CAST(pmod(xxhash64(id, 45), 5) AS INT) + 1) AS o_orderpriority, "
        + "CAST(pmod(xxhash64(id, 46), 2) AS INT) AS o_shippriority, "
        + "concat(substr(sha2(CAST(id AS STRING), 256), 1, 20), "
        + "CASE WHEN pmod(xxhash64(id, 47), 100) = 0 THEN ' special requests' ELSE ' plain' END) AS o_comment "
        + "FROM range(" + orders + ")");
    // Up to 7 lines per order (1 + hash mod 7, 4 on average), from a range of 7 slots per order.
    sql.put("lineitem", "SELECT o AS l_orderkey, pmod(xxhash64(id, 51), " + parts + ") AS l_partkey, "
        + "pmod(xxhash64(id, 52), " + suppliers + ") AS l_suppkey, ln AS l_linenumber, "
        + "CAST(pmod(xxhash64(id, 53), 50) + 1 AS DECIMAL(12,2)) AS l_quantity, "
        + money("id", 54, 10000000, 90000) + " AS l_extendedprice, "
        + "CAST(pmod(xxhash64(id, 55), 11) / 100 AS DECIMAL(12,2)) AS l_discount, "
        + "CAST(pmod(xxhash64(id, 56), 9) / 100 AS DECIMAL(12,2)) AS l_tax, "
        + "element_at(array('A','N','R'), CAST(pmod(xxhash64(id, 57), 3) AS INT) + 1) AS l_returnflag, "
        + "element_at(array('F','O'), CAST(pmod(xxhash64(id, 58), 2) AS INT) + 1) AS l_linestatus, "
        + "date_add(DATE'1992-01-02', CAST(pmod(xxhash64(o, 44), 2400) + pmod(xxhash64(id, 59), 120) AS INT)) AS l_shipdate, "
        + "date_add(DATE'1992-01-02', CAST(pmod(xxhash64(o, 44), 2400) + pmod(xxhash64(id, 60), 90) AS INT)) AS l_commitdate, "
        + "date_add(DATE'1992-01-03', CAST(pmod(xxhash64(o, 44), 2400) + pmod(xxhash64(id, 61), 150) AS INT)) AS l_receiptdate, "
        + "element_at(array('AIR','FOB','MAIL','RAIL','REG AIR','SHIP','TRUCK'), "
        + "CAST(pmod(xxhash64(id, 62), 7) AS INT) + 1) AS l_shipmode, "
        + "substr(sha2(CAST(id AS STRING), 256), 1, 27) AS l_comment "
        + "FROM (SELECT id, id DIV 7 AS o, CAST(id % 7 AS INT) + 1 AS ln FROM range(0, " + (orders * 7) + ", 1, 8)) "
        + "WHERE ln <= 1 + pmod(xxhash64(o, 1), 7)");
    for (Map.Entry<String, String> t : sql.entrySet()) {
      spark.sql(t.getValue()).write().mode("overwrite").option("compression", "none")
          .parquet(dir.resolve(t.getKey()).toString());
    }
    Files.writeString(done, "complete\n");
  }

  /** A DECIMAL(12,2) from a hash: (hash mod range + offset) / 100. */
  private static String money(String col, int seed, long range, long offset) {
    return "CAST((pmod(xxhash64(" + col + ", " + seed + "), " + range + ") + " + offset + ") / 100 AS DECIMAL(12,2))";
  }

  /** Bytes of the generated Parquet files. */
  static long tableBytes(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".parquet")).mapToLong(p -> p.toFile().length()).sum();
    }
  }

  /** Registers the tables as temporary views of {@code spark}. */
  static void register(SparkSession spark, Path dir) {
    for (String t : TABLES) spark.read().parquet(dir.resolve(t).toString()).createOrReplaceTempView(t);
  }

  /** The queries, by name, in the order they run. */
  static Map<String, String> queries() {
    Map<String, String> q = new LinkedHashMap<>();
    q.put("q1", "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base, "
        + "sum(l_extendedprice * (1 - l_discount)) AS sum_disc, sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge, "
        + "avg(l_quantity) AS avg_qty, avg(l_extendedprice) AS avg_price, avg(l_discount) AS avg_disc, count(*) AS n "
        + "FROM lineitem WHERE l_shipdate <= DATE'1998-09-02' GROUP BY l_returnflag, l_linestatus "
        + "ORDER BY l_returnflag, l_linestatus");
    q.put("q3", "SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority "
        + "FROM customer JOIN orders ON c_custkey = o_custkey JOIN lineitem ON l_orderkey = o_orderkey "
        + "WHERE c_mktsegment = 'BUILDING' AND o_orderdate < DATE'1995-03-15' AND l_shipdate > DATE'1995-03-15' "
        + "GROUP BY l_orderkey, o_orderdate, o_shippriority ORDER BY revenue DESC, o_orderdate, l_orderkey LIMIT 10");
    q.put("q5", "SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue "
        + "FROM customer JOIN orders ON c_custkey = o_custkey JOIN lineitem ON l_orderkey = o_orderkey "
        + "JOIN supplier ON l_suppkey = s_suppkey AND c_nationkey = s_nationkey "
        + "JOIN nation ON s_nationkey = n_nationkey JOIN region ON n_regionkey = r_regionkey "
        + "WHERE r_name = 'ASIA' AND o_orderdate >= DATE'1994-01-01' AND o_orderdate < DATE'1995-01-01' "
        + "GROUP BY n_name ORDER BY revenue DESC, n_name");
    q.put("q10", "SELECT c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) AS revenue, c_acctbal, n_name "
        + "FROM customer JOIN orders ON c_custkey = o_custkey JOIN lineitem ON l_orderkey = o_orderkey "
        + "JOIN nation ON c_nationkey = n_nationkey "
        + "WHERE o_orderdate >= DATE'1993-10-01' AND o_orderdate < DATE'1994-01-01' AND l_returnflag = 'R' "
        + "GROUP BY c_custkey, c_name, c_acctbal, n_name ORDER BY revenue DESC, c_custkey LIMIT 20");
    q.put("q12", "SELECT l_shipmode, "
        + "sum(CASE WHEN o_orderpriority IN ('1-URGENT', '2-HIGH') THEN 1 ELSE 0 END) AS high_lines, "
        + "sum(CASE WHEN o_orderpriority NOT IN ('1-URGENT', '2-HIGH') THEN 1 ELSE 0 END) AS low_lines "
        + "FROM orders JOIN lineitem ON o_orderkey = l_orderkey "
        + "WHERE l_shipmode IN ('MAIL', 'SHIP') AND l_commitdate < l_receiptdate AND l_shipdate < l_commitdate "
        + "AND l_receiptdate >= DATE'1994-01-01' AND l_receiptdate < DATE'1995-01-01' "
        + "GROUP BY l_shipmode ORDER BY l_shipmode");
    q.put("q13", "SELECT c_count, count(*) AS custdist FROM (SELECT c_custkey, count(o_orderkey) AS c_count "
        + "FROM customer LEFT OUTER JOIN orders ON c_custkey = o_custkey AND o_comment NOT LIKE '%special%requests%' "
        + "GROUP BY c_custkey) GROUP BY c_count ORDER BY custdist DESC, c_count DESC");
    q.put("q14", "SELECT 100.00 * sum(CASE WHEN p_type LIKE 'PROMO%' THEN l_extendedprice * (1 - l_discount) ELSE 0 END) "
        + "/ sum(l_extendedprice * (1 - l_discount)) AS promo_revenue "
        + "FROM lineitem JOIN part ON l_partkey = p_partkey "
        + "WHERE l_shipdate >= DATE'1995-09-01' AND l_shipdate < DATE'1995-10-01'");
    q.put("q18", "SELECT c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity) AS qty "
        + "FROM customer JOIN orders ON c_custkey = o_custkey JOIN lineitem ON o_orderkey = l_orderkey "
        + "WHERE o_orderkey IN (SELECT l_orderkey FROM lineitem GROUP BY l_orderkey HAVING sum(l_quantity) > 250) "
        + "GROUP BY c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice "
        + "ORDER BY o_totalprice DESC, o_orderdate, o_orderkey LIMIT 100");
    return q;
  }

  /** Result of one pass over the set: seconds per query and a check over every result. */
  record Pass(Map<String, Double> seconds, String check) {}

  /** Runs every query once, collecting its rows; the check hashes each query's rows, sorted. */
  static Pass run(SparkSession spark) {
    Map<String, Double> seconds = new LinkedHashMap<>();
    MessageDigest all = sha256();
    for (Map.Entry<String, String> q : queries().entrySet()) {
      long t0 = System.nanoTime();
      List<Row> rows = spark.sql(q.getValue()).collectAsList();
      seconds.put(q.getKey(), (System.nanoTime() - t0) / 1e9);
      if (rows.isEmpty()) throw new IllegalStateException("small query " + q.getKey() + " returned no rows");
      List<String> lines = new ArrayList<>(rows.size());
      for (Row r : rows) lines.add(r.toString());
      Collections.sort(lines);
      all.update((q.getKey() + "=" + rows.size() + ":" + String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
    }
    return new Pass(seconds, "sha256:" + HexFormat.of().formatHex(all.digest()).substring(0, 16));
  }

  static String secondsJson(Map<String, Double> seconds) {
    StringBuilder sb = new StringBuilder("{");
    seconds.forEach((k, v) -> sb.append(sb.length() > 1 ? "," : "").append('"').append(k).append("\":")
        .append(String.format(Locale.ROOT, "%.2f", v)));
    return sb.append('}').toString();
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
