# guest-lib.sh - what every guest script of the qemu tests shares (sourced
# by busybox sh inside the guest): TAP on stdout, the guest's second serial
# port, ending with "VM-DONE" as its very last line (the host treats a
# missing marker as a failure, so an early exit or a hang can never pass),
# and starting and killing the daemon.

. /vm.env
export PATH=/bin:/usr/bin:/usr/sbin:/sbin
MNT=/mnt/shmfs
B=/run/shmfs-vm          # the backing root
N=0
FAIL=0

ok()    { N=$((N + 1)); echo "ok $N - $*"; }
notok() { N=$((N + 1)); FAIL=$((FAIL + 1)); echo "not ok $N - $*"; }
diag()  { sed 's/^/# /'; }

# is DESC EXPECTED ACTUAL
is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		notok "$1"
		printf 'expected: %s\n     got: %s\n' "$2" "$3" | diag
	fi
}

# check DESC CMD... : passes when CMD exits 0.
check() {
	desc=$1
	shift
	if "$@" >/tmp/out 2>&1; then
		ok "$desc"
	else
		notok "$desc"
		{ echo "command: $*"; cat /tmp/out; } | diag
	fi
}

# errno_is DESC ERRNAME TSYS-ARGS... : the call fails with exactly ERRNAME.
errno_is() {
	desc=$1
	want=$2
	shift 2
	is "$desc" "$want" "$("$TSYS" "$@" 2>&1 | head -n 1 | cut -d' ' -f1)"
}

finish() {
	echo "1..$N"
	echo "VM-DONE failed=$FAIL"
	exit 0
}

# alive PID: the process runs (a zombie does not count).
alive() {
	local st
	st=$(cat /proc/$1/stat 2>/dev/null) || return 1
	case $st in *") Z "*) return 1 ;; esac
}

# start_daemon [OPTIONS]: shmfs in the foreground on $MNT over the backing
# root $B (pid in $daemon), with more -o options if given; waits up to 30 s
# for the mount. Its stderr goes to /tmp/daemon.err.
start_daemon() {
	mkdir -p $MNT
	"$SHMFS_BIN" -f -o backing=$B,allow_other${1:+,$1} $MNT 2>>/tmp/daemon.err &
	daemon=$!
	i=0
	while ! grep -q " $MNT " /proc/mounts && alive $daemon && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# kill_daemon: SIGKILL, as a crash, and drop the dead mount.
kill_daemon() {
	kill -9 $daemon
	wait $daemon 2>/dev/null
	umount -l $MNT
}

# stop_daemon: unmount, then the daemon must exit and have written nothing
# to stderr but lines matching the extended regex ALLOWED (if given).
stop_daemon() {
	umount $MNT
	i=0
	while alive $daemon && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive $daemon; then
		notok "shmfs exits when unmounted"
	else
		ok "shmfs exits when unmounted"
	fi
	if [ -n "${1:-}" ]; then
		grep -Ev "$1" /tmp/daemon.err >/tmp/daemon.unexpected
	else
		cp /tmp/daemon.err /tmp/daemon.unexpected
	fi
	if [ -s /tmp/daemon.unexpected ]; then
		notok "the daemon wrote nothing unexpected to stderr"
		head -n 40 /tmp/daemon.unexpected | diag
	else
		ok "the daemon wrote nothing unexpected to stderr"
	fi
}
