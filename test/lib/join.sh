#!/bin/bash
# join.sh - libshmfs joins against a real shmfs mount: a region joined by its
# tree path is the daemon's hugetlb memory, shared between processes, with
# the kernel's permission checks; read-only joins fault on write; clear
# errors for what is not a region; the daemon's mapper xattrs follow joins;
# joined memory outlives an unlink and the daemon itself.
# Usage (meson): join.sh TJOIN SHMFS_SHARE
TJOIN=$1
SHARE=$2
. "$SHMFS_SOURCE_ROOT/test/harness.sh"

t_pool_grow huge 0 8 || { echo "Bail out! cannot reserve 8 huge pages on node 0"; exit 1; }
t_mount
export SHMFS_PATH=$T_MNT
R=$T_MNT/huge/node0/r
MB2=$((2 * 1024 * 1024))

# hold NAME PATH r|w: start "tjoin hold" in the background talking through
# two fifos; sets NAME_PID, NAME_IN, NAME_OUT and HELD (its first line).
hold() {
	local name=$1 in=$T_DIR/$1.in out=$T_DIR/$1.out fdi fdo
	mkfifo "$in" "$out"
	"$TJOIN" hold "$2" "$3" <"$in" >"$out" &
	T_PIDS+=("$!")
	eval "${name}_PID=$!"
	exec {fdi}>"$in" {fdo}<"$out"
	eval "${name}_IN=$fdi ${name}_OUT=$fdo"
	HELD=
	read -r -t 20 HELD <&"$fdo"
}

# say NAME CMD: send one command to a holder, print its answer.
say() {
	local in out line
	eval "in=\$${1}_IN out=\$${1}_OUT"
	echo "$2" >&"$in"
	read -r -t 20 line <&"$out"
	echo "$line"
}

mappers() { getfattr --absolute-names --only-values -n user.shmfs.mapper_pids "$1" 2>/dev/null; }

# ---------------------------------------------------------------- regions

t_is "shmfs_region_create makes a region in the tree" OK "$("$TJOIN" create huge/node0/r $((2 * MB2)) 0644)"
t_is "the created region has the asked size" $((2 * MB2)) "$(stat -c %s "$R")"
t_is "create of an existing name is EEXIST" EEXIST "$("$TJOIN" create huge/node0/r $MB2 0644)"
t_is "create of a size that is not a page multiple is EINVAL and leaves nothing" \
	"EINVAL no" "$("$TJOIN" create huge/node0/odd 4096 0644) $([ -e "$T_MNT/huge/node0/odd" ] && echo yes || echo no)"
t_like "shmfs_region_info reports huge pages on node 0" "^OK huge $MB2 $((2 * MB2)) 0 r$" "$("$TJOIN" info r)"

# shmfs_region_create_opts (0.2): exact mode, disowned, split; every refusal
# leaves nothing behind.
xa() { getfattr --absolute-names --only-values -n "user.shmfs.$2" "$1" 2>/dev/null; }
gone() { [ -e "$T_MNT/$1" ] && echo left || echo gone; }
t_is "create_opts without options applies the umask" "OK 644" \
	"$(umask 022; "$TJOIN" create-opts huge/node0/o1 0 0666) $(stat -c %a "$T_MNT/huge/node0/o1")"
t_is "create_opts with EXACT_MODE applies the mode as given" "OK 666" \
	"$(umask 022; "$TJOIN" create-opts huge/node0/o2 0 0666 exact) $(stat -c %a "$T_MNT/huge/node0/o2")"
t_is "create_opts without DISOWN records the creating process" "OK yes" \
	"$("$TJOIN" create-opts huge/node0/o3 0 0644) $([ "$(xa "$T_MNT/huge/node0/o3" creator_pid)" != 0 ] && echo yes)"
t_is "create_opts with DISOWN records no creator process" "OK 0 persistent" \
	"$("$TJOIN" create-opts huge/node0/o4 $MB2 0644 disown) $(xa "$T_MNT/huge/node0/o4" creator_pid) $(xa "$T_MNT/huge/node0/o4" lifetime)"
t_is "create_opts with PROCESS_LIFETIME gives the process lifetime" "OK process" \
	"$("$TJOIN" create-opts huge/node0/o5 0 0644 process) $(xa "$T_MNT/huge/node0/o5" lifetime)"
t_is "create_opts refuses PROCESS_LIFETIME with DISOWN and leaves nothing" "EINVAL gone" \
	"$("$TJOIN" create-opts huge/node0/o6 0 0644 process disown) $(gone huge/node0/o6)"
t_is "create_opts with a split sets the placement policy and the size" "OK split:0=2 $((2 * MB2))" \
	"$("$TJOIN" create-opts huge/node0/o7 $((2 * MB2)) 0644 split=0:2) $(xa "$T_MNT/huge/node0/o7" policy) $(stat -c %s "$T_MNT/huge/node0/o7")"
t_is "create_opts refuses a split not summing to the size and leaves nothing" "EINVAL gone" \
	"$("$TJOIN" create-opts huge/node0/o8 $((2 * MB2)) 0644 split=0:1) $(gone huge/node0/o8)"
t_is "create_opts refuses a run of 0 pages" "EINVAL gone" \
	"$("$TJOIN" create-opts huge/node0/o8 $((2 * MB2)) 0644 split=0:2,0:0) $(gone huge/node0/o8)"
t_is "create_opts refuses more than SHMFS_SPLIT_MAX runs" "EINVAL gone" \
	"$("$TJOIN" create-opts huge/node0/o8 $((65 * MB2)) 0644 split=$(for i in $(seq 65); do printf '0:1,'; done)) $(gone huge/node0/o8)"
t_is "a split the daemon refuses (a node twice) is removed again" "EINVAL gone" \
	"$("$TJOIN" create-opts huge/node0/o9 $((2 * MB2)) 0644 split=0:1,0:1) $(gone huge/node0/o9)"
rm -f "$T_MNT"/huge/node0/o[1-7]

# shmfs_region_path (0.2): the tree path, found without the daemon's xattrs.
t_is "region_path finds a bare name's tree path" "OK $R" "$("$TJOIN" path r)"
t_is "region_path makes a relative path absolute" "OK $R" "$("$TJOIN" path huge/node0/r)"
t_is "region_path of a bare name nothing holds is ENOENT" ENOENT "$("$TJOIN" path nosuch)"
t_is "region_path of an invalid bare name is EINVAL" EINVAL "$("$TJOIN" path -x)"

# ---------------------------------------------------------------- joins

t_is "a region joined by its tree path is on 2 MiB pages" "OK 2048 kB" "$("$TJOIN" pagesize "$R")"
t_is "a path relative to the mount joins" OK "$("$TJOIN" join huge/node0/r w)"
t_is "a bare name joins" OK "$("$TJOIN" join r w)"
backing=$(getfattr --absolute-names --only-values -n user.shmfs.backing "$R")
t_like "the backing file is in the backing store" "^$T_BACKING/\.huge/r$" "$backing"
t_is "the backing path joins" "OK 2048 kB" "$("$TJOIN" pagesize "$backing")"

t_is "a random-address join is aligned to the 2 MiB page" "OK ALIGNED" "$("$TJOIN" randaddr r)"

"$TJOIN" create huge/node0/dup $MB2 0644 >/dev/null
"$TJOIN" create normal/node0/dup 4096 0644 >/dev/null
"$SHARE" write huge/node0/dup "huge one" && "$SHARE" write normal/node0/dup "normal one"
t_is "a bare name is searched from the largest page size down" "huge one" "$("$SHARE" read dup)"
t_is "the smaller page type is still reachable by its path" "normal one" "$("$SHARE" read normal/node0/dup)"
rm -f "$T_MNT/huge/node0/dup"
t_is "with the huge one gone the bare name finds the normal one" "normal one" "$("$SHARE" read dup)"
rm -f "$T_MNT/normal/node0/dup"

t_check "the example writes through one process" "$SHARE" write huge/node0/r "hello from $$"
t_is "and another process reads it" "hello from $$" "$("$SHARE" read r)"
t_is "the example reads what was written through the backing path" "hello from $$" "$("$SHARE" read "$backing")"

hold A "$R" w
t_like "a holder joins read-write" "^OK [0-9]+$" "$HELD"
t_is "a holder sees a write made by another process while it holds the region" \
	SAME "$("$SHARE" write r "second write" >/dev/null; say A "check second write")"
say A "write from the holder" >/dev/null
t_is "another process sees the holder's write" "from the holder" "$("$SHARE" read r)"

t_is "a read-only join faults on write (SIGSEGV)" SEGV "$("$TJOIN" rowrite r)"

# ---------------------------------------------------------------- mappers

t_like "the daemon's mapper_pids list a joined process" "(^|,)${A_PID}(,|$)" "$(mappers "$R")"
t_is "the holder leaves" LEFT "$(say A leave)"
t_wait_for 5 bash -c "! getfattr --absolute-names --only-values -n user.shmfs.mapper_pids '$R' | grep -Eq '(^|,)${A_PID}(,|\$)'"
t_fails "the daemon's mapper_pids drop a process that left" \
	bash -c "getfattr --absolute-names --only-values -n user.shmfs.mapper_pids '$R' | grep -Eq '(^|,)${A_PID}(,|\$)'"

# ---------------------------------------------------------------- errors

chmod 0600 "$R"
t_is "a region the caller may not open is EACCES" EACCES "$(t_as_user "$TJOIN" join "$R" r)"
chmod 0644 "$R"
t_is "a read-write join of a region the caller may only read is EACCES" EACCES "$(t_as_user "$TJOIN" join "$R" w)"
t_is "a read-only join of a region the caller may read works" OK "$(t_as_user "$TJOIN" join "$R" r)"
t_is "a file outside shmfs is not a region (ENOTSUP = EOPNOTSUPP)" EOPNOTSUPP "$("$TJOIN" join /etc/passwd r)"
t_is "a control file is not a region (ENOTSUP = EOPNOTSUPP)" EOPNOTSUPP "$("$TJOIN" join "$T_MNT/huge/node0/.nr_pages" r)"
t_is "the status file is not a region (ENOTSUP = EOPNOTSUPP)" EOPNOTSUPP "$("$TJOIN" join "$T_MNT/.status" r)"
t_is "a node directory is not a region (EISDIR)" EISDIR "$("$TJOIN" join huge/node0 r)"
t_is "a missing region is ENOENT" ENOENT "$("$TJOIN" join huge/node0/nosuch r)"
t_is "a missing bare name is ENOENT" ENOENT "$("$TJOIN" join nosuch r)"
t_like "the example says what is wrong with a non-region" "not a shmfs region" "$("$SHARE" read /etc/passwd 2>&1)"
"$TJOIN" create huge/node0/empty 0 0644 >/dev/null
t_is "an empty region cannot be joined (EINVAL)" EINVAL "$("$TJOIN" join empty r)"
t_is "shmfs_region_unlink removes a region" "OK no" "$("$TJOIN" unlink empty) $([ -e "$T_MNT/huge/node0/empty" ] && echo yes || echo no)"

# ------------------------------------------------------- memory outlives names

hold B "$R" w
say B "write kept" >/dev/null
t_check "unlink of a joined region succeeds" rm "$R"
t_is "joined memory stays valid after the region is unlinked" SAME "$(say B "check kept")"
t_is "and stays writable" OK "$(say B "write still here")"
t_is "the unlinked region is gone from the tree" ENOENT "$("$TJOIN" join r r)"

"$TJOIN" create huge/node0/r2 $MB2 0644 >/dev/null
backing2=$(getfattr --absolute-names --only-values -n user.shmfs.backing "$T_MNT/huge/node0/r2")
hold C "$T_MNT/huge/node0/r2" w
say C "write before the crash" >/dev/null
t_kill_daemon
t_is "joined memory stays valid after the daemon is killed" SAME "$(say C "check before the crash")"
t_is "and stays writable" OK "$(say C "write after the crash")"
t_is "with the daemon down, the backing path still joins" OK "$("$TJOIN" join "$backing2" r)"
t_is "and shows what the holder wrote" "after the crash" "$("$SHARE" read "$backing2")"

t_done
