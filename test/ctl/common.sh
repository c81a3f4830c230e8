# common.sh - sourced by the ctl integration tests after test/harness.sh:
# shmfsctl pointed at the test mount, the machine's first memory node and
# huge page size, processes that create or map regions with a known life,
# xattr reads, and JSON field extraction (python3's json, a real parser).

export LC_ALL=C
umask 022

CTLPROC=$SHMFS_BUILD_ROOT/test/ctl/ctlproc
HUGE_SZ=$(( $(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo) * 1024 ))
N0=$(cut -d, -f1 /sys/devices/system/node/has_memory | cut -d- -f1)
PY=$(command -v python3)

# ctl ARGS...: shmfsctl on the test mount.
ctl() { "$SHMFSCTL_BIN" --mount "$T_MNT" "$@"; }

# ctl_x PATH NAME: an xattr's value ("" when absent).
ctl_x() { "$TSYS" getxattr "$1" "$2" 2>/dev/null | sed -n '1s/^OK //p'; }

# ctl_json FILE PYEXPR: evaluate PYEXPR on the JSON document in FILE (as d).
ctl_json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# ctl_started VAR OUT: wait for the helper writing OUT to print its first
# line; put it in VAR.
ctl_started() {
	local var=$1 out=$2
	if ! t_wait_for 20 grep -q . "$out"; then
		echo "# helper did not start:" ; cat "$out" | t_diag
		return 1
	fi
	printf -v "$var" '%s' "$(head -n 1 "$out")"
}

# ctl_map VAR REGION-PATH: a process that maps the region's backing file (as
# libshmfs would) and holds it; its pid into VAR.
ctl_map() {
	local var=$1 path=$2 out backing
	out=$(mktemp "$T_DIR/map.XXXXXX")
	backing=$(ctl_x "$path" user.shmfs.backing)
	t_bg "$TSYS" map "$backing" r >"$out" 2>&1 </dev/null
	printf -v "$var" '%s' "$!"
	t_wait_for 20 grep -q '^OK' "$out"
}

# ctl_hold VAR PATH [as-user]: a live process that created region PATH; pid into VAR.
ctl_hold() {
	local var=$1 path=$2 out
	out=$(mktemp "$T_DIR/hold.XXXXXX")
	chmod 666 "$out"
	if [ "${3:-}" = as-user ]; then
		# setpriv itself (not the t_as_user function) so $! is the process
		t_bg setpriv --reuid="$T_UID" --regid="$T_UID" --clear-groups --inh-caps=-all -- \
			"$(t_user_path "$CTLPROC")" hold "$path" >"$out" 2>&1 </dev/null
	else
		t_bg "$CTLPROC" hold "$path" >"$out" 2>&1 </dev/null
	fi
	ctl_started "$var" "$out"
}

# ctl_zombie VAR PATH: region PATH created by a process now a zombie; the
# zombie's pid into VAR. Its parent (pid in ZOMBIE_PARENT) holds it unreaped
# until killed with ctl_kill (a zombie itself cannot be killed).
ctl_zombie() {
	local var=$1 path=$2 out
	out=$(mktemp "$T_DIR/zombie.XXXXXX")
	t_bg "$CTLPROC" zombie "$path" >"$out" 2>&1 </dev/null
	ZOMBIE_PARENT=$!
	ctl_started "$var" "$out"
}

# ctl_kill PID: SIGKILL a helper and wait until it is gone.
ctl_kill() {
	local p keep=()
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	t_wait_for 20 sh -c "! kill -0 $1 2>/dev/null"
	for p in "${T_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	T_PIDS=("${keep[@]}")
}

# ctl_no_overcommit: no surplus huge pages, so pool numbers are exact
# (the harness restores the knobs).
ctl_no_overcommit() {
	local f
	for f in /sys/kernel/mm/hugepages/hugepages-*/nr_overcommit_hugepages; do
		[ "$(cat "$f")" = 0 ] || echo 0 >"$f"
	done
}
