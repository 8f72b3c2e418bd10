// pegasus:// through Spark (scripts/test-jvm.sh runs it in spark-shell with the shaded jar of
// integration/hadoop-fs and spark.hadoop.fs.pegasus.impl, against a real server). Each check
// prints `PEGASUS_FS_CHECK <name> ok|FAILED` (the script counts them); then PEGASUS_FS_SMOKE.
//   parquet-equal-to-local  a Parquet table written (FileOutputCommitter: _temporary, renames,
//                           listings, deletes) and read back (footers and column chunks: seeks
//                           and positioned reads) equal to the same rows written to local disk
//   commit-files            _SUCCESS and part files, no _temporary left
//   table-location          CREATE TABLE ... LOCATION 'pegasus://...', inserted into and queried
//   checkpoint              sc.setCheckpointDir on pegasus://, a checkpointed RDD read back
//   object-file             saveAsObjectFile / objectFile
//   aborted-commit          a write whose task fails leaves no visible output (no part file, no _SUCCESS)
// PEGASUS_FS_BASE names where on pegasus://, PEGASUS_FS_LOCAL a local directory for comparison.
import org.apache.hadoop.fs.Path
import org.apache.spark.sql.Row

val base = sys.env("PEGASUS_FS_BASE")
val local = "file://" + sys.env("PEGASUS_FS_LOCAL")
var failures = 0
def check(name: String, ok: => Boolean): Unit = {
  val r = try ok catch { case e: Throwable => println(s"PEGASUS_FS_CHECK $name threw $e"); false }
  println(s"PEGASUS_FS_CHECK $name ${if (r) "ok" else "FAILED"}")
  if (!r) failures += 1
}
val fs = new Path(base).getFileSystem(spark.sparkContext.hadoopConfiguration)

val df = spark.range(0, 200000, 1, 4).selectExpr("id", "id * 2 as twice", "cast(id as string) as s")
df.write.mode("overwrite").parquet(base + "/t1")
df.write.mode("overwrite").parquet(local + "/t1")
check("parquet-equal-to-local", {
  val a = spark.read.parquet(base + "/t1")
  val b = spark.read.parquet(local + "/t1")
  a.count() == 200000L && a.except(b).count() == 0L && b.except(a).count() == 0L &&
    a.selectExpr("sum(twice)").first.getLong(0) == 2L * (199999L * 200000L / 2)
})
check("commit-files", {
  val parts = fs.listStatus(new Path(base + "/t1")).map(_.getPath.getName)
  println(s"PEGASUS_FS_SMOKE files=${parts.sorted.mkString(",")} fs=${fs.getClass.getName}")
  parts.contains("_SUCCESS") && parts.count(_.endsWith(".parquet")) >= 1 && !parts.contains("_temporary")
})

check("table-location", {
  spark.sql(s"CREATE TABLE pegasus_t (id BIGINT, s STRING) USING parquet LOCATION '$base/tables/pegasus_t'")
  spark.sql("INSERT INTO pegasus_t SELECT id, cast(id AS STRING) FROM range(1000)")
  spark.sql("INSERT INTO pegasus_t SELECT id, 'x' FROM range(1000, 1500)")
  val r = spark.sql("SELECT count(*), sum(id), count(DISTINCT s) FROM pegasus_t WHERE s <> ''").first
  r == Row(1500L, 1124250L, 1001L) && fs.listStatus(new Path(base + "/tables/pegasus_t")).exists(_.getPath.getName.endsWith(".parquet"))
})

check("checkpoint", {
  spark.sparkContext.setCheckpointDir(base + "/checkpoints")
  val rdd = spark.sparkContext.parallelize(1 to 10000, 4).map(x => x.toLong * 3)
  rdd.checkpoint()
  rdd.count()
  rdd.isCheckpointed && rdd.getCheckpointFile.exists(_.startsWith("pegasus://")) && rdd.sum() == 3.0 * 10000 * 10001 / 2
})

check("object-file", {
  spark.sparkContext.parallelize(Seq("a", "b", "c", "d"), 2).saveAsObjectFile(base + "/objects")
  spark.sparkContext.objectFile[String](base + "/objects").collect().sorted.sameElements(Array("a", "b", "c", "d"))
})

check("aborted-commit", {
  val failed = try {
    spark.range(0, 1000, 1, 4).selectExpr("id", "CASE WHEN id = 999 THEN raise_error('task fails on purpose') ELSE id END AS x")
      .write.parquet(base + "/aborted")
    false
  } catch { case _: Throwable => true }
  val p = new Path(base + "/aborted")
  val left = if (fs.exists(p)) fs.listStatus(p).map(_.getPath.getName).toSeq else Seq.empty
  println(s"PEGASUS_FS_SMOKE aborted write left: ${left.mkString(",")}")
  failed && !left.contains("_SUCCESS") && !left.exists(_.endsWith(".parquet"))
})

println(if (failures == 0) "PEGASUS_FS_SMOKE ok" else s"PEGASUS_FS_SMOKE FAILED ($failures checks)")
System.exit(if (failures == 0) 0 else 1)
