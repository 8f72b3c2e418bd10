// pegasus:// through Spark (scripts/test-jvm.sh runs it in spark-shell with the shaded jar of
// integration/hadoop-fs and spark.hadoop.fs.pegasus.impl, against a real server): a Parquet
// table written (FileOutputCommitter: _temporary, renames, listings, deletes) and read back
// (footers and column chunks: seeks and positioned reads). PEGASUS_FS_BASE names where.
val base = sys.env("PEGASUS_FS_BASE")
val df = spark.range(0, 200000, 1, 4).selectExpr("id", "id * 2 as twice", "cast(id as string) as s")
df.write.mode("overwrite").parquet(base + "/t1")
val back = spark.read.parquet(base + "/t1")
val n = back.count()
val sum = back.selectExpr("sum(twice)").first.getLong(0)
val fs = new org.apache.hadoop.fs.Path(base).getFileSystem(spark.sparkContext.hadoopConfiguration)
val parts = fs.listStatus(new org.apache.hadoop.fs.Path(base + "/t1")).map(_.getPath.getName).sorted
val ok = n == 200000L && sum == 2L * (199999L * 200000L / 2) && parts.contains("_SUCCESS") && parts.count(_.endsWith(".parquet")) >= 1 && !parts.contains("_temporary")
println(s"PEGASUS_FS_SMOKE rows=$n sum=$sum files=${parts.mkString(",")} fs=${fs.getClass.getName}")
println(if (ok) "PEGASUS_FS_SMOKE ok" else "PEGASUS_FS_SMOKE FAILED")
System.exit(if (ok) 0 else 1)
