#!/usr/bin/env bash
# Spark shuffle benchmark: the same shuffle-heavy jobs with Spark's built-in sort shuffle and
# with Pegasus, Spark 3.5 line, on this machine. Not a test.
#
#   scripts/bench-spark.sh [--json] [--master M] [--gib G] [--partitions P] [--map-tasks N]
#                          [--jobs rdd-groupByKey,sql-groupBy] [--line 3.5|4.2] [--skip-build]
#
# Master: local-cluster[2,1,4096] by default: two executor JVMs with one core each, so that
# (as on a real cluster) the built-in shuffle fetches half of its blocks from the other
# executor over the network instead of reading everything from its own disk, which is what
# local[2] would measure. --master 'local[2]' measures that instead.
# Jobs (io.pegasus.spark.it.Bench), about --gib GiB of (8-byte key, 100-byte value) records:
#   rdd-groupByKey  records generated in the map stage, groupByKey into P partitions (default
#                   400), every group consumed (Kryo serializer).
#   sql-groupBy     a generated table (k bigint, v 100 chars) grouped by a high-cardinality k
#                   into P partitions, count and max(v), written to the noop sink.
# Each (job, mode) runs in a JVM of its own (warm-up on 1/20 of the data first, then the timed
# run), Pegasus mode against a real pegasus-server started for it with its data dir under /tmp;
# spark.local.dir is under /tmp too. Prints a table; with --json, one line per job:
#   {"job":..,"builtinSeconds":..,"pegasusSeconds":..,"ratio":..,"shuffleBytes":..}
# (ratio = pegasus/builtin; shuffleBytes = shuffle bytes written by the built-in run).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

json=0
master="local-cluster[2,1,4096]"
gib=2
partitions=400
map_tasks=16
jobs="rdd-groupByKey,sql-groupBy"
line=3.5
skip_build=0
while [ $# -gt 0 ]; do
  case "$1" in
    --json) json=1; shift ;;
    --master) master=$2; shift 2 ;;
    --gib) gib=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --map-tasks) map_tasks=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --line) line=$2; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    *) echo "bench-spark: unknown option $1" >&2; exit 2 ;;
  esac
done

log() { echo "bench-spark: $*" >&2; }

[ -f dist/shuffle-server/src/main.js ] || bash scripts/setup.sh >&2
dists=$(bash scripts/spark-dists.sh)
version=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' integration/pom.xml | head -1)
case "$line" in
  3.5) home=$(sed -n 's/^SPARK_HOME_3=//p' <<<"$dists"); scala=2.12
       plugin="$repo/integration/spark/spark-3.5/target/pegasus-spark-3.5_2.12-$version.jar"
       it="$repo/integration/spark/it/spark-3.5/target/pegasus-spark-it-3.5_2.12-$version.jar"
       modules=spark/spark-3.5,spark/it/spark-3.5 ;;
  4.2) home=$(sed -n 's/^SPARK_HOME_4=//p' <<<"$dists"); scala=2.13
       plugin="$repo/integration/spark/spark-4/target/pegasus-spark-4.2_2.13-$version.jar"
       it="$repo/integration/spark/it/spark-4/target/pegasus-spark-it-4.2_2.13-$version.jar"
       modules=spark/spark-4,spark/it/spark-4 ;;
  *) echo "bench-spark: unknown line $line" >&2; exit 2 ;;
esac

if [ "$skip_build" -eq 0 ]; then
  log "building the plugin and the bench driver (mvn package -DskipTests)"
  mvn -B -f integration/pom.xml -DskipTests package -pl "$modules" -am >/tmp/pegasus-bench-maven.log 2>&1 || {
    tail -40 /tmp/pegasus-bench-maven.log >&2; echo "bench-spark: build failed" >&2; exit 1; }
fi
for f in "$plugin" "$it"; do [ -f "$f" ] || { echo "bench-spark: $f is missing" >&2; exit 1; }; done

work=$(mktemp -d /tmp/pegasus-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
# Tasks run inside the driver in local mode: give it the executors' memory then.
if [[ "$master" == local-cluster* ]]; then xmx=2g; else xmx=8g; fi

results="$work/results.jsonl"
: >"$results"
IFS=',' read -r -a job_list <<<"$jobs"
for job in "${job_list[@]}"; do
  for mode in builtin pegasus; do
    log "$job / $mode on $master, ~${gib} GiB, $partitions partitions"
    run_dir="$work/$job-$mode"
    mkdir -p "$run_dir"
    out=$(SPARK_HOME="$home" SPARK_SCALA_VERSION="$scala" SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_HOSTNAME=127.0.0.1 \
      java @integration/spark/it/jvm.options -Xmx$xmx -cp "$home/jars/*:$plugin:$it" io.pegasus.spark.it.Bench \
      --job "$job" --mode "$mode" --master "$master" --gib "$gib" --partitions "$partitions" \
      --map-tasks "$map_tasks" --plugin-jar "$plugin" --repo "$repo" --work-dir "$run_dir" \
      2>"$run_dir/stderr.log") || {
        log "$job / $mode failed; stderr tail:"; tail -30 "$run_dir/stderr.log" >&2
        echo "{\"job\":\"$job\",\"mode\":\"$mode\",\"seconds\":null,\"shuffleBytes\":0,\"check\":\"failed\"}" >>"$results"
        continue; }
    grep -E '^\{"job"' <<<"$out" | tail -1 >>"$results"
    log "  $(grep -E '^\{"job"' <<<"$out" | tail -1)"
    rm -rf "$run_dir"
  done
done

python3 - "$results" "$json" "$master" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
as_json, master = sys.argv[2] == "1", sys.argv[3]
jobs = []
for r in rows:
    if r["job"] not in jobs:
        jobs.append(r["job"])
print(f"Spark shuffle benchmark on {master} (one JVM per run, after a warm-up on 1/20 of the data)")
print(f"{'job':<16} {'builtin s':>10} {'pegasus s':>10} {'ratio':>7} {'shuffle GiB':>12} {'pegasus GiB':>12}  checks")
out = []
for j in jobs:
    b = next((r for r in rows if r["job"] == j and r["mode"] == "builtin"), {})
    p = next((r for r in rows if r["job"] == j and r["mode"] == "pegasus"), {})
    bs, ps = b.get("seconds"), p.get("seconds")
    ratio = round(ps / bs, 3) if bs and ps else None
    sb = b.get("shuffleBytes") or 0
    same = "same" if b.get("check") == p.get("check") and b.get("check") not in (None, "failed") else "DIFFER"
    fmt = lambda v: f"{v:.1f}" if isinstance(v, (int, float)) else "-"
    print(f"{j:<16} {fmt(bs):>10} {fmt(ps):>10} {fmt(ratio) if ratio is None else f'{ratio:.3f}':>7} "
          f"{sb / 2**30:>12.2f} {(p.get('shuffleBytes') or 0) / 2**30:>12.2f}  {b.get('check')} / {p.get('check')} ({same})")
    print(f"{'':<16} stage seconds (id:s)  builtin: {b.get('stageSeconds', '-')}  pegasus: {p.get('stageSeconds', '-')}")
    out.append({"job": j, "builtinSeconds": bs, "pegasusSeconds": ps, "ratio": ratio, "shuffleBytes": sb})
if as_json:
    for o in out:
        print(json.dumps(o))
EOF
