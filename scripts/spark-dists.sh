#!/usr/bin/env bash
# Installs the two Spark distributions the JVM integration tests need, from PyPI.
#
# The pyspark wheel carries a complete Spark distribution (jars/ and bin/), which is what
# Spark's local-cluster mode needs to launch executor JVMs. Each line goes into its own
# pip --target folder under <repo>/.spark/, so SPARK_HOME=<repo>/.spark/pyspark-X/pyspark.
# Idempotent: a distribution that is already complete is skipped. Prints one
# "SPARK_HOME_<line>=<path>" line per distribution on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD/.spark"

# Keep in step with spark.version in integration/spark/spark-*/pom.xml.
versions=(3.5.9 4.2.0)

install_dist() {
  local version=$1
  local target="$root/pyspark-$version"
  local home="$target/pyspark"
  local stamp="$target/.pegasus-complete"
  if [ ! -f "$stamp" ]; then
    echo "spark-dists: installing pyspark==$version into $target" >&2
    rm -rf "$target" "$target.partial"
    # --no-deps: only the distribution is needed (py4j and friends are for Python jobs).
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
      --target "$target.partial" "pyspark==$version" >&2
    mv "$target.partial" "$target"
    if [ ! -x "$home/bin/spark-class" ] || [ ! -d "$home/jars" ]; then
      echo "spark-dists: pyspark==$version has no bin/spark-class or jars/ under $home" >&2
      exit 1
    fi
    touch "$stamp"
  fi
  echo "SPARK_HOME_${version%%.*}=$home"
}

mkdir -p "$root"
for v in "${versions[@]}"; do install_dist "$v"; done
