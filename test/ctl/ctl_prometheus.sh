# ctl_prometheus.sh - shmfsctl info --prometheus: Prometheus text format that
# a real parser (python3-prometheus-client) accepts and a strict line check
# passes, with the pool numbers of the kernel, the regions, their bytes,
# orphans and usage per owner; --json with it is a usage error.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

t_mount
ctl_no_overcommit
t_pool_grow huge "$N0" 2 || echo "# could not make 2 huge pages free"
D=$T_MNT/normal/node$N0
PG=$(getconf PAGESIZE)
ctl create a 2 normal "node$N0" 0644 >/dev/null
ctl create b 1 normal "node$N0" 0644 >/dev/null
chown "$T_UID" "$D/b"
ctl_hold P "$D/orph"; truncate -s "$PG" "$D/orph"
ctl_kill "$P"
ctl create h 1 huge "node$N0" 0644 >/dev/null

t_is "info --prometheus exits 0" 0 "$(ctl info --prometheus >"$T_DIR/m.prom" 2>"$T_DIR/m.err"; echo $?)"
t_is "it writes nothing on stderr" "" "$(cat "$T_DIR/m.err")"
# the exposition format, line by line: comments, or name{labels} value
bad=$(grep -Ev '^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$|^[a-zA-Z_:][a-zA-Z0-9_:]*\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\} [0-9]+$' "$T_DIR/m.prom")
t_is "every line is a HELP/TYPE comment or a sample" "" "$bad"
t_is "every family is declared a gauge before its samples" "" \
	"$(awk '/^# TYPE/ { t[$3] = 1; next } /^#/ { next } { n = $0; sub(/\{.*/, "", n); if (!(n in t)) print n }' "$T_DIR/m.prom")"

# a real parser, when the machine has one
PARSER_PY=
for p in "$PY" /usr/bin/python3; do
	if [ -x "$p" ] && "$p" -c 'import prometheus_client.parser' 2>/dev/null; then PARSER_PY=$p; break; fi
done
if [ -n "$PARSER_PY" ]; then
	t_check "python3-prometheus-client parses it" "$PARSER_PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
assert fams and all(f.type == "gauge" for f in fams), fams
' "$T_DIR/m.prom"
else
	echo "ok $((T_N + 1)) - python3-prometheus-client parses it # SKIP python3-prometheus-client is not installed"
	T_N=$((T_N + 1))
fi

# value NAME LABEL=VALUE...: the sample with those labels (mount is this one)
value() {
	local name=$1 sel="" kv; shift
	for kv in "$@"; do sel+=" && index(\$0, \"${kv%%=*}=\\\"${kv#*=}\\\"\")"; done
	awk -v n="$name" "index(\$0, n \"{\") == 1 && index(\$0, \"mount=\\\"$T_MNT\\\"\") $sel { print \$NF }" "$T_DIR/m.prom"
}
t_is "pool pages of node $N0 as the kernel has them" "$(t_hp_total huge "$N0")" \
	"$(value shmfs_pool_pages type=huge node="$N0")"
t_is "free pool pages as the kernel has them" "$(t_hp_free huge "$N0")" \
	"$(value shmfs_pool_free_pages type=huge node="$N0")"
t_is "surplus pages (none with overcommit off)" 0 "$(value shmfs_pool_surplus_pages type=huge node="$N0")"
t_is "regions per type (normal)" 3 "$(value shmfs_regions type=normal)"
t_is "regions per type (huge)" 1 "$(value shmfs_regions type=huge)"
t_is "region bytes are the sizes summed" $((4 * PG)) "$(value shmfs_region_bytes type=normal)"
t_is "orphaned regions" 1 "$(value shmfs_regions_orphaned type=normal)"
t_is "orphaned bytes" "$(( $(stat -c %b "$D/orph") * 512 ))" "$(value shmfs_region_orphaned_bytes type=normal)"
t_is "usage per owner: regions of root" 2 "$(value shmfs_user_regions type=normal uid=0)"
t_is "usage per owner: regions of the second user" 1 "$(value shmfs_user_regions type=normal uid="$T_UID")"
t_is "usage per owner: bytes of the second user" "$(( $(stat -c %b "$D/b") * 512 ))" \
	"$(value shmfs_user_allocated_bytes type=normal uid="$T_UID")"
t_is "a page_size label on every pool sample" "" \
	"$(grep '^shmfs_pool' "$T_DIR/m.prom" | grep -v 'page_size="[0-9]*"')"

# the example textfile-collector units (utils/examples, documented in shmfsctl(8))
EX=$SHMFS_SOURCE_ROOT/utils/examples
if command -v systemd-analyze >/dev/null; then
	t_check "the example units pass systemd-analyze verify" \
		systemd-analyze verify "$EX/shmfs-metrics.service" "$EX/shmfs-metrics.timer"
else
	T_N=$((T_N + 1)); echo "ok $T_N - the example units pass systemd-analyze verify # SKIP systemd-analyze is not installed"
fi
mkdir -p "$T_DIR/textfile"
CMD=$(sed -n "s/^ExecStart=\/bin\/sh -c '\(.*\)'\$/\1/p" "$EX/shmfs-metrics.service" |
	sed "s#/var/lib/prometheus/node-exporter#$T_DIR/textfile#g")
t_check "the example service's command writes the metrics file" \
	env PATH="$(dirname "$SHMFSCTL_BIN"):$PATH" SHMFS_PATH="$T_MNT" sh -c "$CMD"
t_is "it holds the same series as info --prometheus, and no temporary file is left" \
	"$(sed 's/ [0-9]*$//' "$T_DIR/m.prom") shmfs.prom" \
	"$(sed 's/ [0-9]*$//' "$T_DIR/textfile/shmfs.prom") $(ls "$T_DIR/textfile")"

t_is "--prometheus with --json is a usage error" 2 "$(ctl --json info --prometheus >/dev/null 2>&1; echo $?)"
t_is "--prometheus without a mount fails" 1 "$("$SHMFSCTL_BIN" --mount "$T_DIR/none" info --prometheus >/dev/null 2>&1; echo $?)"
t_done
