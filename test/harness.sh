# harness.sh - sourced by every integration test. Gives TAP output, a private
# shmfs mount (own mountpoint, own backing root) over the kernel's real huge
# page pools, and a cleanup that puts the host back as it was found: daemons
# and helpers it started are ended by pid, mounts undone, pools restored.
#
# Integration tests share the kernel's huge page pools, so they take a
# machine-wide lock and run one at a time, whoever started them.
#
# Use:
#   . "$SHMFS_SOURCE_ROOT/test/harness.sh"
#   t_mount
#   t_check "touch creates a region" touch "$T_MNT/huge/node0/a"
#   t_errno "a name with a slash is refused" EINVAL "$TSYS" open "$T_MNT/..." cx
#   t_done

set -u
# Tools' output (sort order, ls, df, messages) must not depend on the caller's locale.
export LC_ALL=C
: "${SHMFS_BIN:?run integration tests through meson test (SHMFS_BIN unset)}"
: "${TSYS:?run integration tests through meson test (TSYS unset)}"

T_NAME=$(basename "$0" .sh)

# t_need TOOL...: every tool the test calls is there, or the test fails at
# once saying which (a missing tool must not make a check pass or hang;
# tools/deps.sh installs them all).
t_need() {
	local t missing=
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	[ -z "$missing" ] && return 0
	echo "Bail out! missing tool(s):$missing (tools/deps.sh installs them)"
	exit 1
}
# what the harness and most tests call
t_need flock setpriv mountpoint fusermount3 getfattr setfattr ps python3 sleep
# fusermount3 reads the mount table through /etc/mtab (a chroot may lack it)
[ -e /etc/mtab ] || { echo "Bail out! /etc/mtab is missing (tools/deps.sh links it to /proc/self/mounts)"; exit 1; }

# The lock first: a test stopped while it waits leaves nothing behind. The
# wait has no bound of its own and meson gives integration tests no timeout
# (timeout : 0): another run may hold the lock for a long time. The test's
# own time limit (T_TIMEOUT seconds, SHMFS_TEST_TIMEOUT, 0 for none) starts
# once the lock is held.
mkdir -p /run/lock
exec 9>/run/lock/shmfs-tests.lock
if ! flock -n 9; then
	echo "# waiting for /run/lock/shmfs-tests.lock (another test run holds it)"
	flock 9
fi
T_TIMEOUT=${SHMFS_TEST_TIMEOUT:-600}
T_WATCHDOG=
if [ "$T_TIMEOUT" -gt 0 ] 2>/dev/null; then
	# meson made the test a process group leader (setsid): then the whole
	# group (the test, its daemon, its helpers) is ended, else the test alone.
	T_PGID=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f3)
	(
		trap 'exit 0' TERM   # ended by t_cleanup: quietly
		exec 9>&-   # the lock stays the test's alone
		sleep "$T_TIMEOUT" </dev/null >/dev/null 2>&1 &
		sp=$!
		trap 'kill $sp 2>/dev/null; exit 0' TERM
		wait $sp
		echo "Bail out! $T_NAME did not finish within $T_TIMEOUT s of taking the lock"
		trap - TERM
		# ($$ is the test's pid here too: a subshell keeps it)
		if [ "$T_PGID" = $$ ]; then
			kill -TERM -- "-$T_PGID" 2>/dev/null
		else
			kill -TERM $$ 2>/dev/null
		fi
	) &
	T_WATCHDOG=$!
fi
T_DIR=$(mktemp -d "/tmp/shmfs-$T_NAME.XXXXXX")
chmod 755 "$T_DIR"
T_MNT=$T_DIR/mnt
T_BACKING=$T_DIR/backing
T_N=0
T_FAIL=0
T_DAEMON_PID=
T_PIDS=()
T_UID=${T_UID:-54321}   # a uid with no passwd entry: a second user without touching /etc/passwd
T_DAEMON_ERR=$T_DIR/daemon.err
T_ALLOWED_STDERR=${T_ALLOWED_STDERR:-}   # egrep of daemon stderr lines a test expects
: >"$T_DAEMON_ERR"


# ---------------------------------------------------------------- TAP

t_ok()     { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
t_not_ok() { T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1)); echo "not ok $T_N - $*"; }
t_diag()   { sed 's/^/# /'; }
# t_skip DESC REASON: a check this machine cannot run, said so (TAP SKIP).
t_skip()   { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }

# t_check DESC CMD... : passes when CMD exits 0.
t_check() {
	local desc=$1; shift
	if "$@" >"$T_DIR/out" 2>&1; then
		t_ok "$desc"
	else
		t_not_ok "$desc"
		{ echo "command: $*"; cat "$T_DIR/out"; } | t_diag
	fi
}

# t_fails DESC CMD... : passes when CMD exits non-zero.
t_fails() {
	local desc=$1; shift
	if "$@" >"$T_DIR/out" 2>&1; then
		t_not_ok "$desc"
		{ echo "command succeeded but should fail: $*"; cat "$T_DIR/out"; } | t_diag
	else
		t_ok "$desc"
	fi
}

# t_is DESC EXPECTED ACTUAL
t_is() {
	if [ "$2" = "$3" ]; then
		t_ok "$1"
	else
		t_not_ok "$1"
		printf 'expected: %s\n     got: %s\n' "$2" "$3" | t_diag
	fi
}

# t_like DESC ERE ACTUAL
t_like() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then
		t_ok "$1"
	else
		t_not_ok "$1"
		printf 'expected to match: %s\n               got: %s\n' "$2" "$3" | t_diag
	fi
}

# t_errno DESC ERRNAME TSYS-ARGS... : a tsys call fails with exactly ERRNAME.
# ERRNAME may be "OK" to assert success.
t_errno() {
	local desc=$1 want=$2 got; shift 2
	got=$("$TSYS" "$@" 2>&1 | head -n 1 | cut -d' ' -f1)
	t_is "$desc" "$want" "$got"
}

# t_done: check the daemon said nothing unexpected, print the plan, exit.
t_done() {
	local unexpected
	unexpected=$(grep -Ev "${T_ALLOWED_STDERR:-^\$}" "$T_DAEMON_ERR" | grep -v '^$' || true)
	if [ -n "$unexpected" ]; then
		t_not_ok "the daemon wrote nothing unexpected to stderr"
		printf '%s\n' "$unexpected" | head -n 40 | t_diag
	fi
	echo "1..$T_N"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

# t_passthrough_skip: why a region cannot be mapped through the mount here
# ("" when it can): FUSE passthrough needs Linux 6.9+ and a root daemon.
t_passthrough_skip() {
	local r maj min
	r=$(uname -r)
	maj=${r%%.*}; min=${r#*.}; min=${min%%[!0-9]*}
	if [ "$maj" -lt 6 ] || { [ "$maj" -eq 6 ] && [ "${min:-0}" -lt 9 ]; }; then
		echo "FUSE passthrough needs Linux 6.9+ (this kernel is $r)"
	fi
}

# ---------------------------------------------------------------- processes

# t_bg CMD... : start CMD in the background, remember its pid for cleanup.
t_bg() {
	"$@" &
	T_PIDS+=("$!")
}

# t_user_path PROG: a path of PROG the second user can run. The build tree
# may be where no other user can read (a clone in /root, mode 0700), so a
# program built there is copied once into the test's world-readable
# directory, with the libraries it loads from the build tree, in the same
# relative layout (its $ORIGIN runpath then finds them). Other paths are
# given back as they are.
t_user_path() {
	local prog=$1 rel lib
	case $prog in
	"$SHMFS_BUILD_ROOT"/*) ;;
	*) echo "$prog"; return 0 ;;
	esac
	rel=${prog#"$SHMFS_BUILD_ROOT"/}
	if [ ! -x "$T_DIR/ubin/$rel" ]; then
		mkdir -p "$T_DIR/ubin/$(dirname "$rel")"
		cp "$prog" "$T_DIR/ubin/$rel.tmp" && chmod 755 "$T_DIR/ubin/$rel.tmp" || return 1
		for lib in $(ldd "$prog" 2>/dev/null | awk -v b="$SHMFS_BUILD_ROOT/" '
				index($3, b) == 1 { print $3 }'); do
			rel=${lib#"$SHMFS_BUILD_ROOT"/}
			mkdir -p "$T_DIR/ubin/$(dirname "$rel")"
			[ -e "$T_DIR/ubin/$rel" ] || cp "$lib" "$T_DIR/ubin/$rel" || return 1
		done
		chmod -R a+rX "$T_DIR/ubin"
		rel=${prog#"$SHMFS_BUILD_ROOT"/}
		mv "$T_DIR/ubin/$rel.tmp" "$T_DIR/ubin/$rel"
	fi
	echo "$T_DIR/ubin/$rel"
}

# t_as_user CMD... : run CMD as the second user (uid/gid T_UID, no groups, no
# caps), from the test's directory (the caller's may be closed to them); a
# program from the build tree runs as its copy (t_user_path).
t_as_user() {
	local prog
	prog=$(t_user_path "$1") || return 1
	shift
	( cd "$T_DIR" && exec setpriv --reuid="$T_UID" --regid="$T_UID" --clear-groups --inh-caps=-all -- \
		"$prog" "$@" )
}

# t_wait_for SECONDS CMD... : poll until CMD succeeds.
t_wait_for() {
	local limit=$(( $1 * 10 )) i=0; shift
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge $limit ] && return 1
		sleep 0.1
	done
}

# ---------------------------------------------------------------- pools

T_POOLS=$T_DIR/pools.saved

# Every per-node huge page pool and every overcommit knob, as found.
t_pool_save() {
	local f
	: >"$T_POOLS"
	for f in /sys/devices/system/node/node*/hugepages/hugepages-*/nr_hugepages \
		 /sys/kernel/mm/hugepages/hugepages-*/nr_overcommit_hugepages; do
		[ -r "$f" ] && echo "$f $(cat "$f")" >>"$T_POOLS"
	done
}

t_pool_restore() {
	local f v
	[ -s "$T_POOLS" ] || return 0
	while read -r f v; do
		[ "$(cat "$f")" = "$v" ] || echo "$v" >"$f" 2>/dev/null || true
	done <"$T_POOLS"
}

# t_hp_dir TYPE NODE: sysfs directory of a pool (TYPE huge or gigantic).
t_hp_dir() {
	local kb
	case $1 in
	huge) kb=$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo) ;;
	gigantic) kb=$(ls /sys/kernel/mm/hugepages | sed 's/hugepages-\([0-9]*\)kB/\1/' | sort -n | tail -n 1) ;;
	*) echo "t_hp_dir: bad type $1" >&2; return 1 ;;
	esac
	echo "/sys/devices/system/node/node$2/hugepages/hugepages-${kb}kB"
}

t_hp_total() { cat "$(t_hp_dir "$1" "$2")/nr_hugepages"; }
t_hp_free()  { cat "$(t_hp_dir "$1" "$2")/free_hugepages"; }

# t_pool_set TYPE NODE N: set a pool straight through sysfs (for test setup).
# Fails when the kernel could not reach N.
t_pool_set() {
	local d; d=$(t_hp_dir "$1" "$2")
	echo "$3" >"$d/nr_hugepages" 2>/dev/null
	if [ "$(cat "$d/nr_hugepages")" != "$3" ]; then
		echo 1 >/proc/sys/vm/compact_memory
		echo "$3" >"$d/nr_hugepages" 2>/dev/null
	fi
	[ "$(cat "$d/nr_hugepages")" = "$3" ]
}

# t_pool_grow TYPE NODE N: make at least N pages free in a pool.
t_pool_grow() {
	local total free
	total=$(t_hp_total "$1" "$2"); free=$(t_hp_free "$1" "$2")
	[ "$free" -ge "$3" ] && return 0
	t_pool_set "$1" "$2" $(( total + $3 - free ))
}

# ---------------------------------------------------------------- mounts

# t_mount [OPTS]: mount shmfs on $T_MNT in the foreground (-f) with backing
# root $T_BACKING and allow_other (so the second user can reach it).
t_mount() {
	local opts="backing=$T_BACKING,allow_other${1:+,$1}"
	mkdir -p "$T_MNT"
	"$SHMFS_BIN" -f -o "$opts" "$T_MNT" 2>>"$T_DAEMON_ERR" &
	T_DAEMON_PID=$!
	local i=0
	until mountpoint -q "$T_MNT"; do
		if ! kill -0 "$T_DAEMON_PID" 2>/dev/null; then
			echo "Bail out! shmfs exited before mounting:"; t_diag <"$T_DAEMON_ERR"
			T_DAEMON_PID=
			return 1
		fi
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "Bail out! shmfs did not mount within 10 s"; t_diag <"$T_DAEMON_ERR"
			return 1
		fi
		sleep 0.1
	done
}

# t_umount: unmount cleanly and wait for the daemon to exit.
t_umount() {
	[ -n "$T_DAEMON_PID" ] || return 0
	if mountpoint -q "$T_MNT"; then
		fusermount3 -u "$T_MNT" 2>/dev/null || umount "$T_MNT" 2>/dev/null || umount -l "$T_MNT"
	fi
	local i=0
	while kill -0 "$T_DAEMON_PID" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if kill -0 "$T_DAEMON_PID" 2>/dev/null; then
		echo "# daemon $T_DAEMON_PID did not exit after unmount; killing it"
		kill -9 "$T_DAEMON_PID" 2>/dev/null
	fi
	wait "$T_DAEMON_PID" 2>/dev/null
	T_DAEMON_PID=
}

# t_kill_daemon: SIGKILL the daemon (a crash) and drop its dead mount.
t_kill_daemon() {
	[ -n "$T_DAEMON_PID" ] || return 0
	kill -9 "$T_DAEMON_PID" 2>/dev/null
	wait "$T_DAEMON_PID" 2>/dev/null
	T_DAEMON_PID=
	umount -l "$T_MNT" 2>/dev/null || fusermount3 -u -z "$T_MNT" 2>/dev/null || true
}

# Remove everything under the backing root and unmount its mounts, deepest first.
t_backing_teardown() {
	local m
	[ -d "$T_BACKING" ] || return 0
	for m in $(awk -v b="$T_BACKING" 'index($2, b) == 1 { print $2 }' /proc/mounts | sort -r); do
		find "$m" -mindepth 1 -delete 2>/dev/null
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	rm -rf "$T_BACKING"
}

t_cleanup() {
	local p
	[ -n "$T_WATCHDOG" ] && kill "$T_WATCHDOG" 2>/dev/null && wait "$T_WATCHDOG" 2>/dev/null
	for p in "${T_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${T_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	t_umount
	t_backing_teardown
	t_pool_restore
	umount -l "$T_MNT" 2>/dev/null
	rm -rf "$T_DIR"
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

t_pool_save
