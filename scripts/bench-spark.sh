#!/usr/bin/env bash
# Spark shuffle benchmark: the same jobs with Spark's built-in sort shuffle and with Pegasus,
# Spark 3.5 line, on this machine. Not a test.
#
#   scripts/bench-spark.sh [--json] [--runs N] [--master M] [--gib G] [--partitions P] [--map-tasks N]
#                          [--jobs rdd-groupByKey,sql-groupBy,rdd-sortByKey,small-queries,executor-loss]
#                          [--server-cpus LIST] [--line 3.5|4.2] [--skip-build]
#
# Master: local-cluster[2,1,4096] by default: two executor JVMs with one core each, so that
# (as on a real cluster) the built-in shuffle fetches half of its blocks from the other
# executor over the network instead of reading everything from its own disk, which is what
# local[2] would measure. --master 'local[2]' measures that instead (not for executor-loss).
# Jobs (io.pegasus.spark.it.Bench; all by default), about --gib GiB (default 2) of
# (8-byte key, 100-byte value) records unless said otherwise, Kryo serializer:
#   rdd-groupByKey  records generated in the map stage, groupByKey into P partitions (default
#                   400), every group consumed.
#   sql-groupBy     a generated table (k bigint, v 100 chars) grouped by a high-cardinality k
#                   into P partitions, count and max(v), written to the noop sink.
#   rdd-sortByKey   a global sort (sortByKey into P range partitions), checked sorted.
#   small-queries   TPC-H-like tables (about 140 MB of uncompressed Parquet, generated once per
#                   bench run) and eight queries shaped like TPC-H Q1, Q3, Q5, Q10, Q12, Q13,
#                   Q14, Q18, timed as a set, with Spark SQL's defaults (AQE on, 200 shuffle
#                   partitions); the results must hash the same in both modes.
#   executor-loss   sql-groupBy (groups counted in the reduce tasks) in which the first
#                   attempt of reduce task P/4 halts its executor JVM: a map stage that does
#                   real work (SHA-512 per row, partial aggregation), as a scan's would. The
#                   built-in shuffle must recompute the lost map outputs,
#                   Pegasus must not: lossCheck says FAILED (and the script exits 1) otherwise.
#   tiny-shuffles   (not in the default set) 40 jobs of 2 map and 4 reduce tasks one after
#                   another: a shuffle's fixed costs alone (extra field jobMs: median, p90).
# The first three are the "large" jobs. Each (job, mode, run) runs in a JVM of its own (a
# warm-up first: the job on 1/20 of the data, the whole query set, or the job without the
# kill; then the timed run), Pegasus mode against a real pegasus-server started for it with
# its data dir under /tmp; spark.local.dir is under /tmp too. --runs N (default 2): job by
# job, N builtin/pegasus pairs interleaved (builtin, pegasus, builtin, pegasus, ...); the
# medians are reported. --server-cpus LIST runs the Pegasus server under `taskset -c LIST` and
# the driver and executors (both modes) under the other CPUs: what a job would take with the
# server on cores of its own. PEGASUS_BENCH_CONF='key=value;...' adds Spark settings.
#
# Prints a table; with --json, one line per job:
#   {"job", "builtinSeconds", "pegasusSeconds" (medians), "ratio" (pegasus/builtin medians),
#    "builtinSamples", "pegasusSamples", "check" (same|DIFFER), "shuffleBytes" (built-in),
#    and per mode ({"builtin":..,"pegasus":..}, medians): "mapStageSeconds" (stages writing
#    shuffle output, summed), "otherStageSeconds", "shuffleWriteSeconds" (task time blocked
#    writing shuffle output, summed over tasks), "fetchWaitSeconds" (reduce time blocked on
#    shuffle data, summed), "cpuSecondsPerGiB" ({driver, executors, server, total} per GiB of
#    the job's input), "gib" (input); each run's own line (on stderr) also has "tasks" (median
#    map and other task ms, blocked write ms per map task, fetch wait ms per reading task);
#    small-queries adds "querySeconds"; executor-loss adds
#    "mapTasksRecomputed" and "mapStageRetries" (per run), "lossCheck"}
# then {"summary":..., "largeJobsGeomeanRatio":..} (geometric mean of the large jobs' ratios).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

json=0
master="local-cluster[2,1,4096]"
gib=2
partitions=400
map_tasks=16
jobs="rdd-groupByKey,sql-groupBy,rdd-sortByKey,small-queries,executor-loss"
runs=2
server_cpus=""
line=3.5
skip_build=0
while [ $# -gt 0 ]; do
  case "$1" in
    --json) json=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --master) master=$2; shift 2 ;;
    --gib) gib=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --map-tasks) map_tasks=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --server-cpus) server_cpus=$2; shift 2 ;;
    --line) line=$2; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    *) echo "bench-spark: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]?$ ]] || { echo "bench-spark: --runs wants 1..99, not $runs" >&2; exit 2; }

log() { echo "bench-spark: $*" >&2; }

# --server-cpus: the server gets LIST, the JVMs every other online CPU.
jvm_launcher=()
if [ -n "$server_cpus" ]; then
  others=$(python3 - "$server_cpus" <<'EOF'
import sys
def cpus(spec):
    out = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out
online = cpus(open("/sys/devices/system/cpu/online").read().strip())
server = cpus(sys.argv[1])
if not server <= online:
    sys.exit(f"--server-cpus {sys.argv[1]}: not all of them are online ({sorted(online)})")
rest = sorted(online - server)
if not rest:
    sys.exit(f"--server-cpus {sys.argv[1]} leaves no CPU for the driver and executors")
print(",".join(map(str, rest)))
EOF
  ) || { echo "bench-spark: bad --server-cpus" >&2; exit 2; }
  jvm_launcher=(taskset -c "$others")
  log "server on CPUs $server_cpus, driver and executors on CPUs $others"
fi

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
server_args=()
[ -n "$server_cpus" ] && server_args=(--server-cpus "$server_cpus")
for job in "${job_list[@]}"; do
  for run in $(seq 1 "$runs"); do
    for mode in builtin pegasus; do
      log "$job / $mode, run $run of $runs, on $master, ~${gib} GiB, $partitions partitions"
      run_dir="$work/$job-$mode-$run"
      mkdir -p "$run_dir"
      out=$(SPARK_HOME="$home" SPARK_SCALA_VERSION="$scala" SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_HOSTNAME=127.0.0.1 \
        ${jvm_launcher[@]+"${jvm_launcher[@]}"} \
        java @integration/spark/it/jvm.options -Xmx$xmx -cp "$home/jars/*:$plugin:$it" io.pegasus.spark.it.Bench \
        --job "$job" --mode "$mode" --master "$master" --gib "$gib" --partitions "$partitions" \
        --map-tasks "$map_tasks" --plugin-jar "$plugin" --repo "$repo" --work-dir "$run_dir" \
        --data-dir "$work/tables" ${server_args[@]+"${server_args[@]}"} \
        2>"$run_dir/stderr.log") || {
          log "$job / $mode run $run failed; stderr tail:"; tail -30 "$run_dir/stderr.log" >&2
          echo "{\"job\":\"$job\",\"mode\":\"$mode\",\"seconds\":null,\"shuffleBytes\":0,\"check\":\"failed\"}" >>"$results"
          continue; }
      line=$(grep -E '^\{"job"' <<<"$out" | tail -1)
      echo "$line" >>"$results"
      log "  $line"
      # executor-loss fails one task on purpose (the one that halts its executor).
      failed_ok=0
      [ "$job" = executor-loss ] && failed_ok=1
      failed_tasks=$(grep -oE '"failedTasks":[0-9]+' <<<"$line" | head -1 | cut -d: -f2)
      if [ "${failed_tasks:-0}" -gt "$failed_ok" ]; then
        # Keep what explains the failed tasks (the driver's stderr names each failure).
        kept="/tmp/pegasus-bench-failed-$job-$mode-$run-$$"
        mkdir -p "$kept" && cp "$run_dir"/*.log "$kept"/ 2>/dev/null || true
        log "  tasks failed; logs kept in $kept"
      fi
      rm -rf "$run_dir"
    done
  done
done

python3 - "$results" "$json" "$master" "$runs" "${server_cpus:-}" <<'EOF'
import json, math, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
as_json, master, runs, server_cpus = sys.argv[2] == "1", sys.argv[3], int(sys.argv[4]), sys.argv[5]
LARGE = ("rdd-groupByKey", "sql-groupBy", "rdd-sortByKey")
jobs = []
for r in rows:
    if r["job"] not in jobs:
        jobs.append(r["job"])

def med(values):
    v = [x for x in values if isinstance(x, (int, float))]
    return round(statistics.median(v), 3) if v else None

def fmt(v, spec=".1f"):
    return format(v, spec) if isinstance(v, (int, float)) else "-"

def cpu_per_gib(rs):
    rs = [r for r in rs if r.get("cpuSeconds") and r.get("dataBytes")]
    out = {c: med([r["cpuSeconds"][c] / (r["dataBytes"] / 2**30) for r in rs]) for c in ("driver", "executors", "server")}
    out["total"] = med([sum(r["cpuSeconds"].values()) / (r["dataBytes"] / 2**30) for r in rs])
    return out

where = f", server on CPUs {server_cpus}" if server_cpus else ""
print(f"Spark shuffle benchmark on {master}{where}: medians of {runs} run(s) per mode, interleaved, one JVM per run")
print(f"{'job':<16} {'builtin s':>10} {'pegasus s':>10} {'ratio':>7} {'shuffle GiB':>12}  check  samples (builtin | pegasus)")
out, failures = [], []
for j in jobs:
    by = {m: [r for r in rows if r["job"] == j and r["mode"] == m] for m in ("builtin", "pegasus")}
    ok = {m: [r for r in by[m] if r.get("seconds") is not None] for m in by}
    bs, ps = med([r["seconds"] for r in ok["builtin"]]), med([r["seconds"] for r in ok["pegasus"]])
    ratio = round(ps / bs, 3) if bs and ps else None
    checks = {r.get("check") for r in by["builtin"] + by["pegasus"]}
    same = "same" if len(checks) == 1 and None not in checks and "failed" not in checks else "DIFFER"
    if same != "same":
        failures.append(f"{j}: checks {sorted(map(str, checks))}")
    sb = med([r.get("shuffleBytes") for r in ok["builtin"]]) or 0
    samples = {m: [r.get("seconds") for r in by[m]] for m in by}
    print(f"{j:<16} {fmt(bs):>10} {fmt(ps):>10} {fmt(ratio, '.3f'):>7} {sb / 2**30:>12.2f}  {same:<6} "
          f"{samples['builtin']} | {samples['pegasus']}")
    per_mode = lambda key: {m: med([r.get(key) for r in ok[m]]) for m in ok}
    o = {"job": j, "builtinSeconds": bs, "pegasusSeconds": ps, "ratio": ratio,
         "builtinSamples": samples["builtin"], "pegasusSamples": samples["pegasus"], "check": same,
         "shuffleBytes": sb, "gib": round(ok["builtin"][0]["dataBytes"] / 2**30, 3) if ok["builtin"] else None}
    for key in ("mapStageSeconds", "otherStageSeconds", "shuffleWriteSeconds", "fetchWaitSeconds"):
        o[key] = per_mode(key)
    o["cpuSecondsPerGiB"] = {m: cpu_per_gib(ok[m]) for m in ok}
    print(f"{'':<16} map/other stage s {o['mapStageSeconds']} / {o['otherStageSeconds']}; "
          f"blocked write s {o['shuffleWriteSeconds']}; fetch wait s {o['fetchWaitSeconds']}")
    print(f"{'':<16} CPU s per GiB {o['cpuSecondsPerGiB']}")
    if j == "small-queries":
        names = list(ok["builtin"][0].get("querySeconds", {})) if ok["builtin"] else []
        o["querySeconds"] = {m: {q: med([r["querySeconds"][q] for r in ok[m] if "querySeconds" in r]) for q in names}
                             for m in ok}
        print(f"{'':<16} per query s {o['querySeconds']}")
    if j == "executor-loss":
        o["mapTasksRecomputed"] = {m: [r.get("mapTasksRecomputed") for r in by[m]] for m in by}
        o["mapStageRetries"] = {m: [r.get("mapStageRetries") for r in by[m]] for m in by}
        verdicts = [f"{r['mode']}: {r.get('lossCheck', 'run failed')}" for r in by["builtin"] + by["pegasus"]
                    if r.get("lossCheck") != "ok"]
        o["lossCheck"] = "ok" if not verdicts else "FAILED: " + "; ".join(verdicts)
        if verdicts:
            failures.append(f"{j}: {o['lossCheck']}")
        print(f"{'':<16} map tasks recomputed {o['mapTasksRecomputed']}, map stage retries "
              f"{o['mapStageRetries']}: {o['lossCheck']}")
    out.append(o)
large = [o["ratio"] for o in out if o["job"] in LARGE and o["ratio"]]
geo = round(math.exp(sum(math.log(x) for x in large) / len(large)), 3) if large else None
summary = {"summary": "pegasus/builtin medians", "master": master, "runs": runs, "serverCpus": server_cpus or None,
           "largeJobsGeomeanRatio": geo, "largeJobs": [o["job"] for o in out if o["job"] in LARGE and o["ratio"]],
           "ratios": {o["job"]: o["ratio"] for o in out}, "failures": failures}
print(f"large jobs' geometric mean ratio: {fmt(geo, '.3f')} over {summary['largeJobs']}")
for f in failures:
    print(f"FAILED {f}")
if as_json:
    for o in out:
        print(json.dumps(o))
    print(json.dumps(summary))
sys.exit(1 if failures else 0)
EOF
