#!/usr/bin/env bash
# The Hadoop half of the files benchmark (issue 11): pegasus:// through the Hadoop FileSystem
# API (the shaded integration/hadoop-fs jar) against Hadoop's LocalFileSystem and
# RawLocalFileSystem on the same disk, in one JVM, in one run. Not a test.
# io.pegasus.hadoop.bench.FilesBench (integration/hadoop-fs/src/test/java) says what is measured:
# one file of --gib GiB written with 1 MiB writes then hsync + close (Pegasus: close, its durable
# point) and read back with 1 MiB reads; --count files of 4 KiB created, listed and read, from one
# thread and from --threads threads.
#
#   scripts/bench-files-hadoop.sh [--gib G] [--count N] [--threads N] [--line 4.2|3.5]
#                                 [--dir DIR] [--conf 'key=value;...'] [--build] [--json]
#
# Hadoop: the client jars (hadoop-client-api, hadoop-client-runtime) of the Spark distribution of
# --line under .spark/ (scripts/spark-dists.sh; 4.2 carries Hadoop 3.5.0, 3.5 carries 3.3.4), so
# nothing is downloaded once scripts/test-jvm.sh or bench-spark.sh has run. The bench class is
# compiled here with javac against that Hadoop (it needs nothing else), into the work directory.
# The shaded jar is built (mvn -o, then online if that fails) only when it is missing or with
# --build; a jar older than the sources it is built from is used, with a warning.
# --dir: parent of the work directory (server data and the local file systems' files, so one
# disk), default $TMPDIR or /tmp. A real pegasus-server (port 0) is started for the run and
# stopped after it.
# --conf: Hadoop settings for every file system (e.g. fs.pegasus.read.buffer.bytes=8388608);
# defaults without it.
# Prints a Markdown table on stdout; with --json, then the bench's JSON line (see FilesBench).
# Progress on stderr. Exits non-zero when the run fails, not when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

gib=2
count=10000
threads=8
line=4.2
parent=${TMPDIR:-/tmp}
build=0
json=0
conf=""
while [ $# -gt 0 ]; do
  case "$1" in
    --gib) gib=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --line) line=$2; shift 2 ;;
    --dir) parent=$2; shift 2 ;;
    --conf) conf=$2; shift 2 ;;
    --build) build=1; shift ;;
    --json) json=1; shift ;;
    *) echo "bench-files-hadoop: unknown option $1" >&2; exit 2 ;;
  esac
done
log() { echo "bench-files-hadoop: $*" >&2; }
bytes=$(python3 -c 'import sys; g = float(sys.argv[1]); assert 0 < g <= 64; print(round(g * 2**30))' "$gib" 2>/dev/null) ||
  { echo "bench-files-hadoop: --gib wants a number in (0, 64], not $gib" >&2; exit 2; }

command -v java >/dev/null 2>&1 || { echo "bench-files-hadoop: java is not on PATH" >&2; exit 1; }
command -v javac >/dev/null 2>&1 || { echo "bench-files-hadoop: javac is not on PATH (a JDK is needed)" >&2; exit 1; }
[ -f dist/shuffle-server/src/main.js ] || bash scripts/setup.sh >&2

# ---------------------------------------------------------------- Hadoop client jars
dists=$(bash scripts/spark-dists.sh) || { echo "bench-files-hadoop: scripts/spark-dists.sh failed" >&2; exit 1; }
case "$line" in
  3.5) home=$(sed -n 's/^SPARK_HOME_3=//p' <<<"$dists") ;;
  4.2) home=$(sed -n 's/^SPARK_HOME_4=//p' <<<"$dists") ;;
  *) echo "bench-files-hadoop: unknown Spark line $line" >&2; exit 2 ;;
esac
hadoop_cp=""
for pattern in 'hadoop-client-api-*.jar' 'hadoop-client-runtime-*.jar' 'slf4j-api-*.jar' 'jcl-over-slf4j-*.jar'; do
  jar=$(find "$home/jars" -maxdepth 1 -name "$pattern" | sort | tail -1)
  [ -n "$jar" ] || { echo "bench-files-hadoop: no $pattern in $home/jars" >&2; exit 1; }
  hadoop_cp="$hadoop_cp${hadoop_cp:+:}$jar"
done

# ---------------------------------------------------------------- the shaded jar
version=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' integration/pom.xml | head -1)
fs_jar="$repo/integration/hadoop-fs/target/pegasus-hadoop-fs-$version.jar"
if [ "$build" -eq 1 ] || [ ! -f "$fs_jar" ]; then
  mvn_log=$(mktemp /tmp/pegasus-files-hadoop-maven-XXXXXX.log)
  log "building $fs_jar (mvn package -DskipTests; log $mvn_log)"
  mvn_args=(-q -B -f integration/pom.xml -pl hadoop-fs -am -DskipTests package)
  mvn -o "${mvn_args[@]}" >"$mvn_log" 2>&1 || {
    log "offline build failed; trying online"
    mvn "${mvn_args[@]}" >>"$mvn_log" 2>&1 || { tail -40 "$mvn_log" >&2; echo "bench-files-hadoop: build failed" >&2; exit 1; }
  }
  rm -f "$mvn_log"
fi
[ -f "$fs_jar" ] || { echo "bench-files-hadoop: $fs_jar is missing" >&2; exit 1; }
newer=$(find integration/hadoop-fs/src/main integration/client/src/main -type f -newer "$fs_jar" 2>/dev/null | head -1)
[ -z "$newer" ] || log "warning: $newer is newer than $fs_jar (--build rebuilds it)"

# ---------------------------------------------------------------- work dir, bench class, server
mkdir -p "$parent"
work=$(mktemp -d "$parent/pegasus-files-hadoop-XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

javac -nowarn --release 17 -d "$work/classes" -cp "$hadoop_cp" \
  integration/hadoop-fs/src/test/java/io/pegasus/hadoop/bench/FilesBench.java >&2

node shuffle-server/bin/pegasus-server.js --port 0 --data-dir "$work/data" --log-level warn \
  >"$work/server.out" 2>"$work/server.err" &
pid=$!
port=""
for _ in $(seq 1 150); do
  port=$(grep -o '"event":"listening"[^}]*"port":[0-9]*' "$work/server.out" 2>/dev/null | grep -o '[0-9]*$' | head -1 || true)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$port" ]; then
  tail -10 "$work/server.err" >&2
  echo "bench-files-hadoop: the server did not start" >&2
  exit 1
fi
log "server on port $port (pid $pid), Hadoop from $home/jars, work dir $work, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- the run
status=0
timeout -k 10 3600 java -Xms1g -Xmx1g -cp "$work/classes:$fs_jar:$hadoop_cp" io.pegasus.hadoop.bench.FilesBench \
  --pegasus "pegasus://127.0.0.1:$port/bench-hadoop" --local "$work/local" \
  --bytes "$bytes" --count "$count" --threads "$threads" --conf "$conf" >"$work/result.out" 2>"$work/jvm.err" || status=$?
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=""
result=$(grep -E '^\{"bench":"files-hadoop"' "$work/result.out" | tail -1 || true)
if [ "$status" -ne 0 ] || [ -z "$result" ]; then
  grep -v '^SLF4J' "$work/jvm.err" | tail -30 >&2
  echo "bench-files-hadoop: the bench JVM failed (exit $status)" >&2
  exit 1
fi
load=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$result" "$load" <<'EOF'
import json, sys
r, load = json.loads(sys.argv[1]), sys.argv[2]
fs = r["fileSystems"]
p, l, w = fs["pegasus"], fs["local"], fs["rawLocal"]
t = r["threads"]

def ratio(a, b):
    return f"{a / b:.3f}" if a and b else "-"

def row(label, key):
    print(f"| {label} | {p[key]} | {l[key]} | {ratio(p[key], l[key])} | {w[key]} | {ratio(p[key], w[key])} |")

print()
print(f"| files through Hadoop's FileSystem API (Hadoop {r['hadoopVersion']}): one {r['largeBytes'] / 2**30:.1f} GiB file, "
      f"{r['smallCount']} files of 4 KiB | Pegasus (pegasus://) | LocalFileSystem | ratio | RawLocalFileSystem | ratio |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
row("large write, MB/s (1 MiB writes, hsync, close)", "largeWriteMBps")
row("large read, MB/s (1 MiB reads)", "largeReadMBps")
row("small creates per second, one thread", "smallCreatesPerSec")
row("small listing (listStatus), entries per second", "smallListPerSec")
row("small reads per second (open, readFully), one thread", "smallReadsPerSec")
row(f"small creates per second, {t} threads", "parallelCreatesPerSec")
row(f"small reads per second, {t} threads", "parallelReadsPerSec")
durable = lambda x: "durable (fsync)" if x["hsyncDurable"] else "NOT durable (no hsync capability: a flush to the page cache)"
if r["conf"]:
    print(f"Hadoop settings: {r['conf']}")
if not r["hadoopNative"]:
    print("libhadoop is not loaded: each local create also runs chmod in a child process (RawLocalFileSystem.setPermission), "
          "which bounds the local small-file creates; scripts/bench/files.ts's local baseline has no such cost.")
print(f"hsync: LocalFileSystem {durable(l)}; RawLocalFileSystem {durable(w)}; Pegasus has none, its close is durable.")
# The targets, against the local baseline whose hsync really syncs (the issue's fs.write+hsync).
base_name, base = next(((n, x) for n, x in (("LocalFileSystem", l), ("RawLocalFileSystem", w)) if x["hsyncDurable"]),
                       ("LocalFileSystem", l))
verdict = lambda ok: "ok" if ok else "BELOW TARGET"
wr, rd = p["largeWriteMBps"] / base["largeWriteMBps"], p["largeReadMBps"] / base["largeReadMBps"]
creates = max(p["smallCreatesPerSec"], p["parallelCreatesPerSec"])
print(f"targets (against {base_name}): large write {wr:.3f} of local (>= 0.8: {verdict(wr >= 0.8)}), "
      f"large read {rd:.3f} (>= 0.8: {verdict(rd >= 0.8)}), small creates {creates:.0f}/s "
      f"(best of 1 and {t} threads; >= 2000: {verdict(creates >= 2000)}); load average at the end {load}")
EOF
if [ "$json" -eq 1 ]; then echo "$result"; fi
