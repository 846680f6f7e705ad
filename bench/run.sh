#!/usr/bin/env bash
# `make bench`: parser (criterion), import (ours vs the floor vs python-libnmap + sqlite3, and
# peak memory), a 256-address loopback scan (through the API vs the best nmap command), and the
# fan-out of progress events to idle subscriptions (relayed over PostgreSQL vs in process), and a
# /20 scan whole vs in chunks over one and two workers, and the history: tracking cost on an
# import, the diff of two stored 10,000-host scans vs ndiff, hosts(filter) over 100,000 hosts, and
# the scheduler: its idle tick and the cost of a firing vs starting the scan by hand.
# Figures go to docs/BENCHMARKS.md by hand, with the machine and versions.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
OUT="${BENCH_DIR:-$TARGET/bench}"
mkdir -p "$OUT"
VENV=.tools/bench-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import libnmap" 2>/dev/null || "$VENV/bin/pip" install -q python-libnmap==0.7.3

cargo build --release --locked -p server -p e2e --examples --bin sneakyscan

echo "== parser (criterion)"
[ -n "${BENCH_SKIP_PARSER:-}" ] || cargo bench --locked -p nmap-parser --bench parse

echo "== import: 10,000-host -sV document"
"$TARGET/release/examples/bench_import" "$OUT" | tee "$OUT/import.txt"
XML=$(sed -n 's/^file=//p' "$OUT/import.txt")
"$VENV/bin/python" bench/libnmap_import.py "$XML" "$OUT" | tee -a "$OUT/import.txt"
rm -rf "$OUT/cli-data"
"$TARGET/release/sneakyscan" --data-dir "$OUT/cli-data" migrate >/dev/null
/usr/bin/time -f "cli_peak_rss_kb=%M
cli_s=%e" "$TARGET/release/sneakyscan" --data-dir "$OUT/cli-data" import "$XML" 2>&1 >/dev/null \
  | grep -E '^cli_' | tee -a "$OUT/import.txt"
python3 - "$OUT/import.txt" <<'PY'
import sys
v = dict(l.strip().split("=", 1) for l in open(sys.argv[1]) if "=" in l)
f = float
print(f"peer / ours = {f(v['peer_s']) / f(v['ours_s']):.1f}x faster than python-libnmap + sqlite3")
print(f"ours / floor = {f(v['ours_s']) / f(v['floor_s']):.2f}x the floor (parse {v['parse_s']} s + raw insert {v['raw_insert_s']} s)")
print(f"storing / floor = {f(v['storing_s']) / f(v['floor_s']):.2f}x (the rest, {v['reports_s']} s, is the completion pipeline's reports and findings)")
print(f"peak memory of a CLI import = {int(v['cli_peak_rss_kb']) / 1024:.0f} MiB for a {int(v['bytes']) / 2**20:.1f} MiB file "
      f"({int(v['cli_peak_rss_kb']) * 1024 / int(v['bytes']):.2f}x)")
PY

echo "== history: tracking cost on a 10,000-host import, diff vs ndiff, hosts(filter) on 100,000 hosts"
"$TARGET/release/examples/bench_history" "$OUT" | tee "$OUT/history.txt"

echo "== schedules: the idle tick with 1,000 schedules, 100 firings at once vs starting them by hand"
"$TARGET/release/examples/bench_schedules" "$OUT" | tee "$OUT/schedules.txt"

echo "== core: pages, write lock, streamed upload"
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -q wrk >/dev/null 2>&1; } || true
"$TARGET/release/examples/bench_core" "$TARGET/release/sneakyscan" "$OUT" | tee "$OUT/core.txt"

echo "== scan: 256 loopback addresses x 2 ports"
"$TARGET/release/examples/bench_scan" | tee "$OUT/scan.txt"

echo "== agents: a scan on a remote agent vs on the server's worker, reconnection after a restart"
"$TARGET/release/examples/bench_agents" "$TARGET/release/sneakyscan" "$OUT" | tee "$OUT/agents.txt"

echo "== replicas: fan-out to idle subscriptions (relayed over PostgreSQL vs in process vs unshared), start, cancel, take-over"
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  "$TARGET/release/examples/bench_replicas" "$TARGET/release/sneakyscan" "$OUT" | tee "$OUT/replicas.txt"
  echo "== replicas, pinned: the servers on CPU 0, the benchmark's clients on CPU 1"
  if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    BENCH_SERVER_CPUS=0 taskset -c 1 "$TARGET/release/examples/bench_replicas" "$TARGET/release/sneakyscan" "$OUT" \
      | tee "$OUT/replicas-pinned.txt"
  fi
else
  echo "skipped: no PostgreSQL at 127.0.0.1:5432"
fi

echo "== chunks: a /20 run whole by one worker vs in chunks by one and by two workers"
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  SNEAKYSCAN_TEST_POSTGRES_URL="${SNEAKYSCAN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}" \
    "$TARGET/release/examples/bench_chunks" "$TARGET/release/sneakyscan" "$OUT" | tee "$OUT/chunks.txt"
else
  echo "skipped: no PostgreSQL at 127.0.0.1:5432"
fi
