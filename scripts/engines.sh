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
#   scripts/engines.sh node es|os NAME HTTP TRANSPORT [SEEDS MASTERS]
#                                          one extra node with its own config and data under
#                                          .cache/engines/nodes/NAME (SEEDS: comma-separated
#                                          host:transport list, MASTERS: node names; both absent:
#                                          single-node); returns once it answers on HTTP
#   scripts/engines.sh stop-node NAME      SIGTERM that node (its data stays for a restart)
#   scripts/engines.sh rm-node NAME        stop it and delete its directory
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

# The engine user must be able to reach the distribution: a clone under a private directory
# (mktemp -d makes 0700 ones) would refuse it with "Permission denied". Grant search permission
# (o+x, never read) on the ancestors that lack it, and say so.
ensure_reachable() { # absolute path
  runuser -u "$user" -- test -x "$1" 2>/dev/null && return 0
  local p="" part
  local IFS=/
  # Top down, so only the directory that actually blocks the way is changed.
  for part in ${1#/}; do
    p="$p/$part"
    if ! runuser -u "$user" -- test -x "$p" 2>/dev/null; then
      echo "engines.sh: granting search permission (o+x) on $p so $user can reach the engines" >&2
      chmod o+x "$p"
    fi
  done
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
  ensure_reachable "$home/bin"
  env "$javaenv=$JAVA17" "$optsenv=-Xms$HEAP -Xmx$HEAP" \
    setsid runuser -u "$user" -- "$home/bin/$bin" > "$dir/$kind.log" 2>&1 < /dev/null &
  wait_green "http://127.0.0.1:$port" "$kind"
}

stop_one() {
  local pat=$([ "$1" = es ] && echo org.elasticsearch.bootstrap || echo org.opensearch.bootstrap)
  pkill -u "$user" -f "$pat" 2>/dev/null || true
}

node_dir() { echo "$dir/nodes/$1"; }

start_node() { # es|os NAME HTTP TRANSPORT [SEEDS MASTERS]
  ensure_user
  local kind=$1 name=$2 port=$3 tport=$4 seeds=${5:-} masters=${6:-} home conf javaenv optsenv confenv bin nd
  if [ "$kind" = es ]; then
    home=$(fetch org.elasticsearch.distribution.integ-test-zip elasticsearch "$ES_VERSION")
    conf=elasticsearch.yml; javaenv=ES_JAVA_HOME; optsenv=ES_JAVA_OPTS; confenv=ES_PATH_CONF; bin=elasticsearch
  else
    home=$(fetch org.opensearch.distribution.integ-test-zip opensearch "$OS_VERSION")
    conf=opensearch.yml; javaenv=OPENSEARCH_JAVA_HOME; optsenv=OPENSEARCH_JAVA_OPTS; confenv=OPENSEARCH_PATH_CONF; bin=opensearch
  fi
  nd=$(node_dir "$name")
  mkdir -p "$nd/data" "$nd/logs"
  # A config directory per node (the distribution's defaults plus our settings), so nodes of one
  # distribution run side by side without sharing elasticsearch.yml / opensearch.yml.
  [ -d "$nd/config" ] || cp -r "$home/config" "$nd/config"
  {
    # Nodes of one cluster share the masters list, so its first name names the cluster.
    if [ -n "$seeds" ]; then echo "cluster.name: xiangan-$kind-${masters%%,*}"; else echo "cluster.name: xiangan-$kind-$name"; fi
    echo "node.name: $name"
    echo "network.host: 127.0.0.1"
    echo "http.port: $port"
    echo "transport.port: $tport"
    echo "path.data: $nd/data"
    echo "path.logs: $nd/logs"
    echo "cluster.routing.allocation.disk.threshold_enabled: false"
    if [ -n "$seeds" ]; then
      echo "discovery.seed_hosts: [$seeds]"
      [ "$kind" = es ] && echo "cluster.initial_master_nodes: [$masters]" || echo "cluster.initial_cluster_manager_nodes: [$masters]"
    else
      echo "discovery.type: single-node"
    fi
    [ "$kind" = es ] && echo "xpack.security.enabled: false"
    true
  } > "$nd/config/$conf"
  # The JVM writes its GC log under the distribution's logs/ (relative to its home), so the engine
  # user must own the home even when the single-node engine was never started from this clone.
  chown -R "$user" "$home" "$nd"
  ensure_reachable "$home/bin"
  ensure_reachable "$nd"
  env "$javaenv=$JAVA17" "$optsenv=-Xms$HEAP -Xmx$HEAP" "$confenv=$nd/config" \
    setsid runuser -u "$user" -- "$home/bin/$bin" -p "$nd/pid" > "$nd/out.log" 2>&1 < /dev/null &
  for _ in $(seq 1 180); do
    if [ -f "$nd/pid" ] && ! kill -0 "$(cat "$nd/pid")" 2>/dev/null; then break; fi
    curl -sf "http://127.0.0.1:$port/_cluster/health?timeout=1s" >/dev/null 2>&1 && { echo "node $name is up on $port"; return 0; }
    curl -s "http://127.0.0.1:$port/" >/dev/null 2>&1 && { echo "node $name answers on $port"; return 0; }
    sleep 1
  done
  echo "node $name did not start; last log lines:" >&2
  tail -n 40 "$nd/out.log" >&2 || true
  return 1
}

stop_node() { # NAME: SIGTERM by the node's own pid file, wait until it is gone
  local nd pid; nd=$(node_dir "$1")
  [ -f "$nd/pid" ] || return 0
  pid=$(cat "$nd/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$nd/pid"
}

cmd=${1:-start}; which=${2:-all}
case "$cmd" in
  start) if [ "$which" = all ]; then start_one es; start_one os; else start_one "$which"; fi ;;
  stop) if [ "$which" = all ]; then stop_one es; stop_one os; else stop_one "$which"; fi ;;
  node) shift; start_node "$@" ;;
  stop-node) stop_node "$2" ;;
  rm-node) stop_node "$2"; rm -rf "$(node_dir "$2")" ;;
  status) curl -s http://127.0.0.1:19200/_cluster/health || true; echo; curl -s http://127.0.0.1:19201/_cluster/health || true; echo ;;
  *) echo "usage: $0 start|stop|status [es|os|all] | node es|os NAME HTTP TRANSPORT [SEEDS MASTERS] | stop-node NAME | rm-node NAME" >&2; exit 2 ;;
esac
