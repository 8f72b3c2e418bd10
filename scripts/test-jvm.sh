#!/usr/bin/env bash
# JVM test suite: the JUnit tests of every Maven module (the Java client; integration/hadoop-fs
# with Hadoop's contract suites for pegasus://; integration/flink-fs with Flink's FileSystemBehaviorTestSuite
# per Flink line, on the class path and through the plugin jar), then per Spark line a Spark job that writes
# and reads a Parquet table on pegasus:// through the shaded hadoop-fs jar, then the real-Spark
# harness (integration/spark/it, io.pegasus.spark.it.Main) for each Spark line and master, every
# scenario once with Spark's built-in shuffle and once with Pegasus, results compared.
# Ends with exactly one line "JVM: N passed, N failed"; exits 1 if anything failed.
#
# Needs Node deps and dist/ (scripts/setup.sh), Java 17+, Maven, python3 with pip.
# Installs the Spark distributions (scripts/spark-dists.sh) and Maven's downloads itself.
#
# Options: --lines "3.5 4.2"     Spark lines to run (default both)
#          --masters "local[2,4] local-cluster[2,1,1024]"
#          --modes builtin,pegasus  (builtin alone needs no plugin)
#          --only NAME,PREFIX.   scenario filter passed to the harness ("hadoop-fs" selects the
#                                pegasus:// Spark job, which runs when --only is not given; "flink-fs"
#                                the per-line check of integration/flink-fs's reports)
#          --skip-build          use the jars already in target/
# Environment: PEGASUS_IT_TIMEOUT (seconds per scenario, default 120),
#              PEGASUS_IT_VERBOSE=1 (stage timings), PEGASUS_IT_CONF="k=v;k=v" (extra Spark conf).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

lines="3.5 4.2"
masters=("local[2,4]" "local-cluster[2,1,1024]")
modes="builtin,pegasus"
only=""
skip_build=0
while [ $# -gt 0 ]; do
  case "$1" in
    --lines) lines=$2; shift 2 ;;
    --masters) read -r -a masters <<<"$2"; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    *) echo "test-jvm: unknown option $1" >&2; exit 2 ;;
  esac
done

start=$(date +%s)
passed=0
failed=0
logdir="$repo/integration/spark/it/target/logs"
rm -rf "$logdir"
mkdir -p "$logdir"

finish() {
  echo "== JVM suite took $(( $(date +%s) - start )) s (logs: $logdir)"
  echo "JVM: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0 || exit 1
}

# ---------------------------------------------------------------- prerequisites
if [ ! -f dist/shuffle-server/src/main.js ]; then
  echo "== building the server (dist/ is missing)"
  if [ -d node_modules ]; then npx --no-install tsc -p tsconfig.json; else bash scripts/setup.sh; fi || {
    echo "test-jvm: could not build dist/"; failed=$((failed + 1)); finish; }
fi
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "== installing Java 17 and Maven from apt"
  { apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless maven; } >/dev/null 2>&1 || true
fi
if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
  echo "test-jvm: java and mvn are required"; failed=$((failed + 1)); finish
fi

echo "== Spark distributions"
dists=$(bash scripts/spark-dists.sh) || { echo "test-jvm: scripts/spark-dists.sh failed"; failed=$((failed + 1)); finish; }
spark_home_3=$(sed -n 's/^SPARK_HOME_3=//p' <<<"$dists")
spark_home_4=$(sed -n 's/^SPARK_HOME_4=//p' <<<"$dists")

# ---------------------------------------------------------------- build + client tests
version=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' integration/pom.xml | head -1)
plugin_jar_3="$repo/integration/spark/spark-3.5/target/pegasus-spark-3.5_2.12-$version.jar"
plugin_jar_4="$repo/integration/spark/spark-4/target/pegasus-spark-4.2_2.13-$version.jar"
it_jar_3="$repo/integration/spark/it/spark-3.5/target/pegasus-spark-it-3.5_2.12-$version.jar"
it_jar_4="$repo/integration/spark/it/spark-4/target/pegasus-spark-it-4.2_2.13-$version.jar"
fs_jar="$repo/integration/hadoop-fs/target/pegasus-hadoop-fs-$version.jar"
flink_lines="1.20 2"   # integration/flink-fs/flink-<line>, each a plugin jar pegasus-flink-fs-<line>-<version>.jar
flink_jar() { echo "$repo/integration/flink-fs/flink-$1/target/pegasus-flink-fs-$1-$version.jar"; }

if [ "$skip_build" -eq 0 ]; then
  echo "== Maven build and client tests (log: $logdir/maven.log)"
  # Stale jars or reports must not stand in for a failed build.
  rm -f "$plugin_jar_3" "$plugin_jar_4" "$it_jar_3" "$it_jar_4" "$fs_jar"
  for fl in $flink_lines; do rm -f "$(flink_jar "$fl")"; done
  find integration -path '*/target/surefire-reports' -type d -prune -exec rm -rf {} + 2>/dev/null
  t0=$(date +%s)
  # -fae: a module that fails does not stop the others (the harness runs without the plugin);
  # test failures are counted from the reports below, not by Maven's exit code.
  mvn -B -fae -f integration/pom.xml -Dmaven.test.failure.ignore=true -DskipTests=false package \
    >"$logdir/maven.log" 2>&1
  mvn_status=$?
  echo "   maven: exit $mvn_status in $(( $(date +%s) - t0 )) s"
  if [ "$mvn_status" -ne 0 ]; then
    echo "not ok maven build: exit $mvn_status"
    grep -E '\[ERROR\]' "$logdir/maven.log" | head -40 | sed 's/^/#   /'
    failed=$((failed + 1))
  fi
fi

# JUnit: sum every surefire report (tests - failures - errors - skipped = passed).
reports=$(find integration -path '*/target/surefire-reports/TEST-*.xml' 2>/dev/null)
if [ -n "$reports" ]; then
  read -r j_tests j_fail j_err j_skip < <(python3 - $reports <<'EOF'
import sys, xml.etree.ElementTree as ET
t = f = e = s = 0
for path in sys.argv[1:]:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == 'testsuite' else root.findall('testsuite')
    for x in suites:
        t += int(x.get('tests', 0)); f += int(x.get('failures', 0))
        e += int(x.get('errors', 0)); s += int(x.get('skipped', 0))
print(t, f, e, s)
EOF
  )
  j_pass=$((j_tests - j_fail - j_err - j_skip))
  j_bad=$((j_fail + j_err))
  echo "JUnit (client, hadoop-fs, flink-fs): $j_pass passed, $j_bad failed, $j_skip skipped"
  if [ "$j_bad" -gt 0 ]; then
    grep -lE '<(failure|error)' $reports | while read -r r; do
      python3 - "$r" <<'EOF'
import sys, xml.etree.ElementTree as ET
for tc in ET.parse(sys.argv[1]).getroot().iter('testcase'):
    for bad in list(tc.findall('failure')) + list(tc.findall('error')):
        msg = (bad.get('message') or '').splitlines()[:1]
        print(f"not ok {tc.get('classname')}.{tc.get('name')}: {msg[0] if msg else bad.get('type')}")
EOF
    done
  fi
  passed=$((passed + j_pass))
  failed=$((failed + j_bad))
else
  echo "JUnit (client, hadoop-fs, flink-fs): no surefire reports found"
fi

# ---------------------------------------------------------------- pegasus:// under Flink
# integration/flink-fs: per Flink line, FileSystemBehaviorTestSuite with the factory on the class path
# (test phase) and through the shaded plugin jar loaded by Flink's plugin manager (package phase).
# Their tests are in the JUnit sum above; this prints each line's share, and a line that left no
# plugin jar or no report of either phase counts as one failure more (its tests never ran).
flink_fs_line() {
  local line=$1 dir="integration/flink-fs/flink-$1/target/surefire-reports"
  if [ ! -f "$(flink_jar "$line")" ]; then
    echo "not ok flink-fs Flink $line: $(flink_jar "$line") was not built"
    failed=$((failed + 1))
    return
  fi
  local missing="" cls
  for cls in PegasusFileSystemBehaviorTest PegasusFileSystemPluginJarTest; do
    [ -f "$dir/TEST-io.pegasus.flink.fs.$cls.xml" ] || missing="$missing $cls"
  done
  if [ -n "$missing" ]; then
    echo "not ok flink-fs Flink $line: no JUnit report of$missing"
    failed=$((failed + 1))
    return
  fi
  python3 - "$line" "$dir"/TEST-*.xml <<'EOF'
import sys, xml.etree.ElementTree as ET
t = bad = s = 0
for path in sys.argv[2:]:
    x = ET.parse(path).getroot()
    t += int(x.get('tests', 0)); bad += int(x.get('failures', 0)) + int(x.get('errors', 0))
    s += int(x.get('skipped', 0))
print(f"{'ok' if bad == 0 else 'not ok'} flink-fs Flink {sys.argv[1]}: {t - bad - s} passed, {bad} failed, {s} skipped")
EOF
}

if [ -z "$only" ] || [[ ",$only," == *",flink-fs,"* ]]; then
  for fl in $flink_lines; do flink_fs_line "$fl"; done
fi

# ---------------------------------------------------------------- pegasus:// under Spark
# One Spark job per line (integration/hadoop-fs/src/test/spark/smoke.scala in spark-shell): the
# shaded jar on --jars and spark.hadoop.fs.pegasus.impl, against a server started here.
fs_smoke() {
  local line=$1 home=$2
  if [ ! -f "$fs_jar" ]; then
    echo "not ok hadoop-fs Spark $line: $fs_jar was not built"
    failed=$((failed + 1))
    return
  fi
  local work out err data pid port=""
  work=$(mktemp -d "${TMPDIR:-/tmp}/pegasus-fs-smoke-XXXXXX")
  out="$logdir/hadoop-fs-spark-$line.out"
  err="$logdir/hadoop-fs-spark-$line.err"
  node shuffle-server/bin/pegasus-server.js --port 0 --data-dir "$work/data" --log-level warn \
    >"$work/server.out" 2>"$work/server.err" &
  pid=$!
  local i
  for i in $(seq 1 150); do
    port=$(grep -o '"event":"listening"[^}]*"port":[0-9]*' "$work/server.out" 2>/dev/null | grep -o '[0-9]*$' | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$port" ]; then
    echo "not ok hadoop-fs Spark $line: the server did not start; stderr tail:"
    tail -10 "$work/server.err" | sed 's/^/#   /'
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    rm -rf "$work"
    failed=$((failed + 1))
    return
  fi
  echo "== pegasus:// under Spark $line (stderr: $err)"
  local t0=$(date +%s)
  mkdir -p "$work/local"
  (cd "$work" && SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_HOSTNAME=127.0.0.1 \
    PEGASUS_FS_BASE="pegasus://127.0.0.1:$port/spark-$line" PEGASUS_FS_LOCAL="$work/local" \
    timeout -k 10 300 "$home/bin/spark-shell" --master 'local[2]' --jars "$fs_jar" \
      --conf spark.hadoop.fs.pegasus.impl=io.pegasus.hadoop.PegasusFileSystem --conf spark.ui.enabled=false \
      --driver-java-options -XX:TieredStopAtLevel=1 \
      -i "$repo/integration/hadoop-fs/src/test/spark/smoke.scala" </dev/null >"$out" 2>"$err")
  local status=$?
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  rm -rf "$work"
  # Each check of smoke.scala counts; a run that ended before its last line counts as one failure more.
  local ok_checks bad_checks
  ok_checks=$(grep -c '^PEGASUS_FS_CHECK .* ok$' "$out")
  bad_checks=$(grep -c '^PEGASUS_FS_CHECK .* FAILED$' "$out")
  grep '^PEGASUS_FS_CHECK' "$out" | sed "s/^PEGASUS_FS_CHECK \(.*\) ok$/ok hadoop-fs Spark $line: \1/; s/^PEGASUS_FS_CHECK \(.*\) FAILED$/not ok hadoop-fs Spark $line: \1/"
  passed=$((passed + ok_checks))
  failed=$((failed + bad_checks))
  if grep -q '^PEGASUS_FS_SMOKE ok$' "$out"; then
    echo "ok hadoop-fs Spark $line: $ok_checks checks on pegasus:// ($(( $(date +%s) - t0 )) s)"
  else
    echo "not ok hadoop-fs Spark $line: exit $status; output:"
    grep -E 'PEGASUS_FS_SMOKE|PEGASUS_FS_CHECK|Exception|Error' "$out" "$err" | head -20 | sed 's/^/#   /'
    if ! grep -q '^PEGASUS_FS_SMOKE' "$out"; then failed=$((failed + 1)); fi
  fi
}

if [ -z "$only" ] || [[ ",$only," == *",hadoop-fs,"* ]]; then
  for line in $lines; do
    case "$line" in
      3.5) fs_smoke 3.5 "$spark_home_3" ;;
      4.2) fs_smoke 4.2 "$spark_home_4" ;;
    esac
  done
fi

# ---------------------------------------------------------------- the Spark harness
run_line() {
  local line=$1 home=$2 scala=$3 plugin=$4 it=$5
  if [ ! -f "$it" ]; then
    echo "not ok harness $line: $it was not built"
    failed=$((failed + ${#masters[@]}))
    return
  fi
  local args=(--line "$line" --modes "$modes" --timeout "${PEGASUS_IT_TIMEOUT:-120}" --repo "$repo")
  [ -f "$plugin" ] && args+=(--plugin-jar "$plugin")
  [ -n "$only" ] && args+=(--only "$only")
  local cp="$home/jars/*:$it"
  # The plugin must be on the driver's class path at start (it is the shuffle manager).
  [ -f "$plugin" ] && cp="$home/jars/*:$plugin:$it"
  if [[ "$modes" == *pegasus* ]] && [ ! -f "$plugin" ]; then
    echo "# $plugin was not built: every pegasus session of Spark $line will fail"
  fi
  local master
  for master in "${masters[@]}"; do
    local tag="${line}-$(tr -c 'A-Za-z0-9\n' '_' <<<"$master")"
    local out="$logdir/harness-$tag.out" err="$logdir/harness-$tag.err"
    echo "== Spark $line, $master (stderr: $err)"
    local t0=$(date +%s)
    # C1 only: these JVMs live for minutes; on 2 cores C2 compilation costs more than it saves.
    SPARK_HOME="$home" SPARK_SCALA_VERSION="$scala" SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_HOSTNAME=127.0.0.1 \
      timeout -k 30 1500 java @integration/spark/it/jvm.options -XX:TieredStopAtLevel=1 -Xmx2g \
      -cp "$cp" io.pegasus.spark.it.Main "${args[@]}" --master "$master" --work-dir "$logdir/work-$tag" \
      2>"$err" | tee "$out" | grep -vE '^#     stage '
    local status=${PIPESTATUS[0]}
    local summary
    summary=$(grep -E "^JVM $line .*: [0-9]+ passed, [0-9]+ failed$" "$out" | tail -1)
    echo "   ($(( $(date +%s) - t0 )) s, exit $status)"
    if [ -z "$summary" ]; then
      echo "not ok harness $line $master: exited $status without a summary line; stderr tail:"
      tail -30 "$err" | sed 's/^/#   /'
      failed=$((failed + 1))
      continue
    fi
    local p f
    p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$summary")
    f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$summary")
    passed=$((passed + p))
    failed=$((failed + f))
    rm -rf "$logdir/work-$tag"
  done
}

for line in $lines; do
  case "$line" in
    3.5) run_line 3.5 "$spark_home_3" 2.12 "$plugin_jar_3" "$it_jar_3" ;;
    4.2) run_line 4.2 "$spark_home_4" 2.13 "$plugin_jar_4" "$it_jar_4" ;;
    *) echo "test-jvm: unknown Spark line $line"; failed=$((failed + 1)) ;;
  esac
done

finish
