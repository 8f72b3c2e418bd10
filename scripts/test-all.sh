#!/usr/bin/env bash
# Runs every test suite and ends with one line "N passed, N failed" summing them.
# This is the README's test command (npm test) and what .ci/run runs.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
# The dashboard tests drive Debian's Chromium (not needed by npm start).
bash scripts/setup-browser.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
status=0
logdir=$(mktemp -d)

echo "== generated schema code is current"
if node scripts/gen-schemas.mjs --check; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi

echo "== shared test vectors (schemas/test-vectors) are current"
# setup.sh built dist/; the generator compares what it would write with the committed files.
if node dist/scripts/gen-test-vectors.js --check; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi

echo "== generated native binding (native/binding.cjs, binding.d.cts) is current"
# setup.sh ran napi build, which rewrites both files; they must equal the committed ones.
if git diff --quiet -- native/binding.cjs native/binding.d.cts 2>/dev/null || [ ! -d .git ]; then
  passed=$((passed + 1))
else
  echo "native/binding.cjs or binding.d.cts differs from the build: commit the regenerated files"
  git --no-pager diff --stat -- native/binding.cjs native/binding.d.cts
  failed=$((failed + 1)); status=1
fi

echo "== Rust tests (cargo test, native/)"
# No `|| true` here: it would reset PIPESTATUS (the script has no `set -e`).
(cd native && cargo test --release 2>&1) | tee "$logdir/cargo.log" | grep -E '^test |test result'
cargo_status=${PIPESTATUS[0]}
rs_pass=$(awk '/^test result:/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^passed/) n += $i } END { print n + 0 }' "$logdir/cargo.log")
rs_fail=$(awk '/^test result:/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^failed/) n += $i } END { print n + 0 }' "$logdir/cargo.log")
if ! grep -qE '^test result:' "$logdir/cargo.log" || { [ "$cargo_status" -ne 0 ] && [ "$rs_fail" -eq 0 ]; }; then
  echo "cargo test exited with $cargo_status or printed no result; counting it as a failure"
  tail -30 "$logdir/cargo.log"
  rs_fail=$((rs_fail + 1))
fi
passed=$((passed + rs_pass))
failed=$((failed + rs_fail))
[ "$rs_fail" -gt 0 ] && status=1
echo "Rust: $rs_pass passed, $rs_fail failed"

echo "== TypeScript tests (ava)"
npx --no-install ava --tap 2>&1 | tee "$logdir/ava.tap" | grep -E '^(not ok|ok|#)' | grep -vE '^ok' || true
ts_pass=$(grep -cE '^ok ' "$logdir/ava.tap" || true)
ts_fail=$(grep -cE '^not ok ' "$logdir/ava.tap" || true)
if ! grep -qE '^1\.\.[0-9]+' "$logdir/ava.tap"; then
  echo "ava did not finish its TAP plan; counting it as a failure"
  ts_fail=$((ts_fail + 1))
fi
grep -E '^not ok' -A 30 "$logdir/ava.tap" | head -200 || true
passed=$((passed + ts_pass))
failed=$((failed + ts_fail))
[ "$ts_fail" -gt 0 ] && status=1
echo "TypeScript: $ts_pass passed, $ts_fail failed"

echo "== JVM tests (Java client JUnit + real Spark jobs, scripts/test-jvm.sh)"
bash scripts/test-jvm.sh 2>&1 | tee "$logdir/jvm.log"
jvm_line=$(grep -E '^JVM: [0-9]+ passed, [0-9]+ failed$' "$logdir/jvm.log" | tail -1)
if [ -n "$jvm_line" ]; then
  jvm_pass=$(sed -E 's/^JVM: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$jvm_line")
  jvm_fail=$(sed -E 's/^JVM: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$jvm_line")
else
  echo "the JVM suite printed no summary line; counting it as a failure"
  jvm_pass=0
  jvm_fail=1
fi
passed=$((passed + jvm_pass))
failed=$((failed + jvm_fail))
[ "$jvm_fail" -gt 0 ] && status=1

echo "TypeScript: $ts_pass passed, $ts_fail failed; Rust: $rs_pass passed, $rs_fail failed; JVM: $jvm_pass passed, $jvm_fail failed"
echo "$passed passed, $failed failed"
exit $status
