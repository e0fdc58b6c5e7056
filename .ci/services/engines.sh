#!/usr/bin/env bash
# Real single-node Elasticsearch (127.0.0.1:19200) and OpenSearch (127.0.0.1:19201) for the soc
# storage suites (docs/adr/0002). Fails loudly when either does not start: the suites then fail
# too in CI instead of skipping. Heap 512m per node (the machine has 2 cores and is shared).
set -euo pipefail
cd "$(dirname "$0")/../.."
XIANGAN_ENGINE_HEAP=${XIANGAN_ENGINE_HEAP:-512m} bash scripts/engines.sh start all
