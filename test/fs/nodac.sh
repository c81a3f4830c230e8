#!/bin/bash
# nodac.sh - chmod, chown and touch of a region need ownership, not write
# access to its backing file: a daemon that may not open the file for
# writing (here: root without CAP_DAC_OVERRIDE, as a non-root daemon is
# with a file of mode 0444) still makes a 0444 region writable again. Only a
# size change opens the backing file for writing.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/fs/common.sh"

HP=$FS_HUGE_SZ
fs_no_overcommit
t_check "2 free huge pages can be reserved for the test" t_pool_grow huge "$FS_N0" 2

# The daemon runs as root with CAP_DAC_OVERRIDE dropped from every set, so
# the kernel checks the backing files' modes against it like any owner.
nodac=$T_DIR/shmfs-nodac
printf '#!/bin/sh\nexec setpriv --inh-caps=-dac_override --bounding-set=-dac_override -- "%s" "$@"\n' \
	"$SHMFS_BIN" >"$nodac"
chmod 755 "$nodac"
SHMFS_BIN=$nodac t_mount || exit 1
H=$T_MNT/huge/node$FS_N0
t_is "the daemon runs without CAP_DAC_OVERRIDE" "0" \
	"$(( 0x$(awk '/^CapEff:/ { print $2 }' "/proc/$T_DAEMON_PID/status") >> 1 & 1 ))"

touch "$H/ro"
t_check "a region can be sized" truncate -s "$HP" "$H/ro"
b=$(fs_backing huge ro)
t_check "chmod 0444 works" chmod 0444 "$H/ro"
t_check "chmod 0644 of a 0444 region works (no write access needed)" chmod 0644 "$H/ro"
t_is "... stat shows it" "644" "$(fs_st %a "$H/ro")"
t_is "... the backing file carries it" "644" "$(fs_st %a "$b")"
t_check "chmod 0000 works" chmod 0000 "$H/ro"
t_check "chmod 0600 of a 0000 region works" chmod 0600 "$H/ro"
t_is "... the backing file carries it" "600" "$(fs_st %a "$b")"
chmod 0444 "$H/ro"
t_check "chown of a 0444 region works" chown 1234:5678 "$H/ro"
t_is "... the backing file carries it" "1234 5678 444" "$(fs_st '%u %g %a' "$b")"
t_check "touch -d of a 0444 region works" touch -m -d @1500000000 "$H/ro"
t_is "... the backing file carries it" "1500000000" "$(fs_st %Y "$b")"
t_is "the region's size is untouched by all that" "$HP" "$(fs_st %s "$H/ro")"
t_errno "sizing still needs write access to the backing file" EACCES truncate "$H/ro" $((2 * HP))
t_is "... and changes nothing" "$HP" "$(fs_st %s "$b")"

t_done
