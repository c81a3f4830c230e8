. "$SHMFS_SOURCE_ROOT/test/harness.sh"
t_done
