# ctl_regions.sh - shmfsctl's fd_shmem_ctl side against a real mount: create
# (counts, sizes, CPU lists, modes), unlink, query NAME, numa-cnt, cpu-cnt,
# cpu-idx, numa-idx, chained commands, --help everywhere, and every kind of
# bad input refused with exit status 2 and nothing left behind.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

ctl_no_overcommit
t_pool_grow huge "$N0" 16
t_mount
CPU0=$(cut -d, -f1 /sys/devices/system/cpu/online | cut -d- -f1)
NCPU=$(nproc --all)

# status CMD...: the exit status of shmfsctl on the test mount; output in bad.out
status() { ctl "$@" >"$T_DIR/bad.out" 2>&1; echo $?; }

# --- create
t_check "create a region of 2 huge pages on a CPU's node" ctl create wksp 2 huge "$CPU0" 0600
R=$T_MNT/huge/node$N0/wksp
t_is "it is 2 huge pages long" "$((2 * HUGE_SZ))" "$(stat -c %s "$R")"
t_is "its pages sit on the CPU's node" "$N0" "$(ctl_x "$R" user.shmfs.numa_nodes)"
t_is "its mode is exactly MODE" "600" "$(stat -c %a "$R")"
t_is "it is disowned: no creator process, never orphaned" "0" "$(ctl_x "$R" user.shmfs.creator_pid)"
t_is "so it is not orphaned although nobody maps it" "false" "$(ctl_x "$R" user.shmfs.orphaned)"
t_check "create with nodeN and a size with a unit" ctl create big 4M huge "node$N0" 0640
t_is "a size is turned into pages" "$((4 * 1048576))" "$(stat -c %s "$T_MNT/huge/node$N0/big")"
t_is "MODE is applied without the umask" "666" "$(umask 077; ctl create masked 1 normal "node$N0" 0666 >/dev/null; stat -c %a "$T_MNT/normal/node$N0/masked")"
t_check "create of normal pages" ctl create small 3 normal "$CPU0" 0644
t_is "normal pages: 3 base pages" "$((3 * $(getconf PAGESIZE)))" "$(stat -c %s "$T_MNT/normal/node$N0/small")"
if [ "$NCPU" -ge 2 ]; then
	t_check "create over a CPU list with one count per CPU" ctl create multi 1,1 huge "0-1" 0600
	t_is "the counts add up" "$((2 * HUGE_SZ))" "$(stat -c %s "$T_MNT/huge/node$N0/multi" 2>&1)"
	t_is "a single total is split over the CPUs" "$((3 * HUGE_SZ))" \
		"$(ctl create multi3 3 huge 0,1 0600 >/dev/null; stat -c %s "$T_MNT/huge/node$N0/multi3" 2>&1)"
else
	t_skip "create over a CPU list of two CPUs" "this machine has $NCPU CPU"
fi
ctl --json create jsn 1 huge "$CPU0" 0600 >"$T_DIR/create.json"
t_is "create --json describes the new region" "jsn $HUGE_SZ" \
	"$(ctl_json "$T_DIR/create.json" 'd["region"]["name"], d["region"]["size"]')"
t_like "create says what it made" "created huge/node$N0/said: 1 huge page" \
	"$(ctl create said 1 huge "$CPU0" 0600)"

# create: errors, and nothing half-made
t_is "create of an existing name fails" 1 "$(status create wksp 1 huge "$CPU0" 0600)"
t_like "it says names are unique per type" "unique per page type" "$(cat "$T_DIR/bad.out")"
t_is "the existing region is untouched" "$((2 * HUGE_SZ))" "$(stat -c %s "$R")"
for bad in "bad/name" ".hidden" "-dash" "" "a b" "x\$y" "$(printf 'a%.0s' $(seq 40))"; do
	t_is "create refuses the name '$bad'" 2 "$(status create "$bad" 1 huge "$CPU0" 0600)"
done
t_like "a long name is reported as too long" "longer than 39" "$(ctl create "$(printf 'a%.0s' $(seq 40))" 1 huge 0 0600 2>&1)"
t_is "create refuses an unknown page type" 2 "$(status create n1 1 tiny "$CPU0" 0600)"
t_like "it lists the types there are" "this kernel offers: normal.*huge" "$(cat "$T_DIR/bad.out")"
t_is "create refuses a negative count" 2 "$(status create n1 -1 huge "$CPU0" 0600)"
t_is "create refuses a count of 0" 2 "$(status create n1 0 huge "$CPU0" 0600)"
t_is "create refuses a non-numeric count" 2 "$(status create n1 lots huge "$CPU0" 0600)"
t_is "create refuses a size that is not whole pages" 2 "$(status create n1 1K huge "$CPU0" 0600)"
t_is "create refuses a CPU that does not exist" 2 "$(status create n1 1 huge 99999 0600)"
t_like "it says the CPU does not exist" "CPU 99999 does not exist" "$(cat "$T_DIR/bad.out")"
t_is "create refuses a node that does not exist" 2 "$(status create n1 1 huge node999 0600)"
t_is "create refuses a negative CPU" 2 "$(status create n1 1 huge -1 0600)"
t_is "create refuses counts that do not match the CPUs" 2 "$(status create n1 1,1,1 huge "$CPU0" 0600)"
t_is "create refuses a non-octal mode" 2 "$(status create n1 1 huge "$CPU0" 0698)"
t_is "create refuses a mode above 07777" 2 "$(status create n1 1 huge "$CPU0" 77777)"
t_is "create refuses a mode with blanks before it" 2 "$(status create n1 1 huge "$CPU0" " 600")"
t_is "create refuses a size beyond the largest file size" 2 \
	"$(status create n1 $((9223372036854775807 / HUGE_SZ + 1)) huge "$CPU0" 0600)"
t_fails "nothing is left of a refused create" test -e "$T_MNT/huge/node$N0/n1"
t_is "create with too few arguments is a usage error" 2 "$(status create n1 1 huge)"
FREE=$(t_hp_free huge "$N0")
t_is "create beyond the pool fails" 1 "$(status create toomuch $((FREE + 1)) huge "$CPU0" 0600)"
t_like "it says which node lacks how many pages and how to reserve them" "Node $N0 has $FREE free huge pages?, $((FREE + 1)) needed: .shmfsctl alloc [0-9]+ huge $N0." "$(cat "$T_DIR/bad.out")"
t_is "a failed create leaves no region behind" "" "$(ls "$T_MNT/huge/node$N0" | grep -x toomuch)"
t_is "a failed create leaves the pool as it was" "$FREE" "$(t_hp_free huge "$N0")"
t_is "nothing was created by the refused commands" "" "$(ls "$T_MNT/huge/node$N0" | grep -x n1)"

# --- query NAME
ctl query wksp >"$T_DIR/q.out"
t_like "query NAME shows the region's path" "path: +huge/node$N0/wksp" "$(cat "$T_DIR/q.out")"
t_like "query NAME shows its size" "file size: +4.0M" "$(cat "$T_DIR/q.out")"
t_like "query NAME shows its mode" "mode: +0600" "$(cat "$T_DIR/q.out")"
t_check "query TYPE/nodeN/NAME works" ctl query "huge/node$N0/wksp"
t_check "query NAME TYPE works" ctl query small normal
t_is "query NAME of the wrong TYPE fails" 1 "$(status query small huge)"
t_is "query of a missing region fails" 1 "$(status query nosuch)"
t_like "it says there is no such region" "no region named 'nosuch'" "$(cat "$T_DIR/bad.out")"
t_is "query of a bad name is a usage error" 2 "$(status query 'bad name')"
t_is "query of a node directory path is a usage error" 2 "$(status query "huge/node$N0")"
ctl --json query wksp >"$T_DIR/q.json"
t_is "query --json gives the exact size" "$((2 * HUGE_SZ))" "$(ctl_json "$T_DIR/q.json" 'd["region"]["size"]')"
t_is "query --json gives the nodes as numbers" "[$N0]" "$(ctl_json "$T_DIR/q.json" 'd["region"]["numa_nodes"]')"
t_is "query --json gives the mode as in the human output" "0600" "$(ctl_json "$T_DIR/q.json" 'd["region"]["mode"]')"

# --- unlink
t_check "unlink removes a region" ctl unlink said
t_is "it is gone from the tree" "" "$(ls "$T_MNT/huge/node$N0" | grep -x said)"
t_is "unlink of a missing region fails" 1 "$(status unlink said)"
t_is "unlink of a bad name is a usage error" 2 "$(status unlink ../etc)"
t_is "unlink with an unknown type is a usage error" 2 "$(status unlink wksp tiny)"
chmod 0644 "$R"
t_is "another user cannot unlink a region not theirs" 1 \
	"$(t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" unlink wksp >"$T_DIR/bad.out" 2>&1; echo $?)"
t_like "it says only the owner may" "Only its owner" "$(cat "$T_DIR/bad.out")"
t_is "the region is still there" "$((2 * HUGE_SZ))" "$(stat -c %s "$R")"

# --- topology
t_is "numa-cnt counts the nodes" "$(( $(sed 's/.*[-,]//' /sys/devices/system/node/online) + 1 ))" "$(ctl numa-cnt)"
t_is "cpu-cnt counts the CPUs" "$(( $(sed 's/.*[-,]//' /sys/devices/system/cpu/possible) + 1 ))" "$(ctl cpu-cnt)"
t_is "cpu-idx gives the first CPU of a node" "$(cut -d, -f1 /sys/devices/system/node/node$N0/cpulist | cut -d- -f1)" "$(ctl cpu-idx "$N0")"
t_is "numa-idx gives the node of a CPU" "$N0" "$(ctl numa-idx "$CPU0")"
t_is "numa-idx of a CPU that does not exist is a usage error" 2 "$(status numa-idx 99999)"
t_is "cpu-idx of a node that does not exist is a usage error" 2 "$(status cpu-idx 999)"
t_is "numa-idx of a negative CPU is a usage error" 2 "$(status numa-idx -1)"
t_is "cpu-idx of a non-number is a usage error" 2 "$(status cpu-idx one)"
ctl --json numa-idx "$CPU0" >"$T_DIR/n.json"
t_is "numa-idx --json gives the same node" "$N0" "$(ctl_json "$T_DIR/n.json" 'd["numa_idx"]')"

# --- chains, global options, help
t_is "commands chain like fd_shmem_cfg" "$(ctl numa-cnt; ctl cpu-cnt)" "$(ctl numa-cnt cpu-cnt)"
ctl --json numa-cnt cpu-cnt >"$T_DIR/chain.json"
t_is "a chain with --json is one JSON array" "numa-cnt cpu-cnt" \
	"$(ctl_json "$T_DIR/chain.json" '" ".join(x["command"] for x in d)')"
t_is "a bad command late in a chain runs nothing" 2 "$(status create chain1 1 huge "$CPU0" 0600 frobnicate)"
t_is "so the first command of that chain did not run" "" "$(ls "$T_MNT/huge/node$N0" | grep -x chain1)"
t_is "an unknown command is a usage error" 2 "$(status frobnicate)"
t_is "an unknown option is a usage error" 2 "$(status info --bogus)"
for c in init fini alloc free query reset create unlink info clean numa-cnt cpu-cnt cpu-idx numa-idx; do
	t_like "'$c --help' explains $c" "^usage: shmfsctl $c" "$(ctl "$c" --help | head -n 1)"
done
t_is "--help lists the commands" 4 "$(ctl --help | grep -Ec '^  (create|info|clean|alloc) ')"
t_is "SHMFS_PATH names the mount" "$(ctl query wksp | head -n 1)" "$(SHMFS_PATH=$T_MNT "$SHMFSCTL_BIN" query wksp | head -n 1)"
t_is "a missing mount fails" 1 "$("$SHMFSCTL_BIN" --mount "$T_DIR/none" query >"$T_DIR/bad.out" 2>&1; echo $?)"
t_like "it names the mount and what to do" "cannot reach shmfs at '$T_DIR/none'.*" "$(head -n 1 "$T_DIR/bad.out")"
mkdir "$T_DIR/plain"
t_is "a directory without shmfs fails" 1 "$("$SHMFSCTL_BIN" --mount "$T_DIR/plain" info >"$T_DIR/bad.out" 2>&1; echo $?)"
t_like "it says no shmfs is mounted there" "no shmfs is mounted at" "$(cat "$T_DIR/bad.out")"

# --- reset
t_is "reset as another user fails" 1 "$(t_as_user "$SHMFSCTL_BIN" --mount "$T_MNT" reset >"$T_DIR/o" 2>&1; echo $?)"
t_like "it says only root may" "Only root" "$(cat "$T_DIR/o")"
t_like "and removed nothing" "wksp" "$(ls "$T_MNT/huge/node$N0")"
t_like "reset says how many regions it removed" "^removed [0-9]+ regions$" "$(ctl reset)"
t_is "reset removes every region" "" "$(find "$T_MNT"/*/node* -type f ! -name ".*")"
t_done
