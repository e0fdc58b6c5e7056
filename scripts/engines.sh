#!/usr/bin/env bash
# Start (or stop) real single-node Elasticsearch and OpenSearch on loopback for the
# integration suites, from the integration-test distributions published on Maven Central
# (no Docker here). Versions are pinned; downloads are cached in ~/.m2 and unpacked under
# .cache/engines. Both engines refuse to run as root, so they run as the system user
# `xiangan-engines`, created on first use.
#
#   scripts/engines.sh start [es|os|all]   start and wait until green (default: all)
#   scripts/engines.sh stop  [es|os|all]
#   scripts/engines.sh status
#
# Ports: Elasticsearch http 19200 / transport 19300, OpenSearch http 19201 / transport 19301.
# The test suites find them through XIANGAN_ES_URL and XIANGAN_OS_URL (defaults the same).
set -euo pipefail
ES_VERSION=8.19.0
OS_VERSION=2.19.4
JAVA17=${JAVA17_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
HEAP=${XIANGAN_ENGINE_HEAP:-768m}
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.cache/engines"
user=xiangan-engines

fetch() { # groupId artifactId version -> unpacked directory
  local g=$1 a=$2 v=$3
  local dest="$dir/$a-$v"
  if [ ! -d "$dest" ]; then
    mkdir -p "$dir"
    mvn -q -B dependency:copy -Dartifact="$g:$a:$v:zip" -DoutputDirectory="$dir" >&2
    (cd "$dir" && unzip -q "$a-$v.zip" && rm -f "$a-$v.zip")
  fi
  echo "$dest"
}

ensure_user() {
  id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
}

wait_green() { # url name
  for _ in $(seq 1 120); do
    if curl -sf "$1/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; then
      echo "$2 is up at $1"; return 0
    fi
    sleep 1
  done
  echo "$2 did not start; last log lines:" >&2
  tail -n 40 "$dir/$2.log" >&2 || true
  return 1
}

start_one() { # es|os
  ensure_user
  local kind=$1 home conf data port tport javaenv optsenv bin
  if [ "$kind" = es ]; then
    home=$(fetch org.elasticsearch.distribution.integ-test-zip elasticsearch "$ES_VERSION")
    conf=elasticsearch.yml; port=19200; tport=19300; javaenv=ES_JAVA_HOME; optsenv=ES_JAVA_OPTS; bin=elasticsearch
  else
    home=$(fetch org.opensearch.distribution.integ-test-zip opensearch "$OS_VERSION")
    conf=opensearch.yml; port=19201; tport=19301; javaenv=OPENSEARCH_JAVA_HOME; optsenv=OPENSEARCH_JAVA_OPTS; bin=opensearch
  fi
  if curl -sf "http://127.0.0.1:$port/_cluster/health" >/dev/null 2>&1; then echo "$kind already running"; return 0; fi
  data="$dir/$kind-data"
  mkdir -p "$data"
  {
    echo "cluster.name: xiangan-test-$kind"
    echo "discovery.type: single-node"
    echo "network.host: 127.0.0.1"
    echo "http.port: $port"
    echo "transport.port: $tport"
    echo "path.data: $data"
    echo "action.auto_create_index: true"
    # Disk watermarks off: CI machines may have little free disk; the tests hold tiny indices.
    echo "cluster.routing.allocation.disk.threshold_enabled: false"
    [ "$kind" = es ] && echo "xpack.security.enabled: false"
    true
  } > "$home/config/$conf"
  chown -R "$user" "$home" "$data"
  env "$javaenv=$JAVA17" "$optsenv=-Xms$HEAP -Xmx$HEAP" \
    setsid runuser -u "$user" -- "$home/bin/$bin" > "$dir/$kind.log" 2>&1 < /dev/null &
  wait_green "http://127.0.0.1:$port" "$kind"
}

stop_one() {
  local pat=$([ "$1" = es ] && echo org.elasticsearch.bootstrap || echo org.opensearch.bootstrap)
  pkill -u "$user" -f "$pat" 2>/dev/null || true
}

cmd=${1:-start}; which=${2:-all}
case "$cmd" in
  start) if [ "$which" = all ]; then start_one es; start_one os; else start_one "$which"; fi ;;
  stop) if [ "$which" = all ]; then stop_one es; stop_one os; else stop_one "$which"; fi ;;
  status) curl -s http://127.0.0.1:19200/_cluster/health || true; echo; curl -s http://127.0.0.1:19201/_cluster/health || true; echo ;;
  *) echo "usage: $0 start|stop|status [es|os|all]" >&2; exit 2 ;;
esac
