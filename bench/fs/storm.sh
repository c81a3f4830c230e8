#!/bin/bash
# storm.sh - the long kill storm, run by hand (issue 10): test/fs/storm.sh
# until the daemon has been SIGKILLed STORM_KILLS times (1,000), printing
# kills, crashes, lost, resurrected and corrupt regions, partial regions and
# pool mismatches every 50 kills and at the end. Build with sanitizers to
# catch crashes that do not kill the daemon outright:
#   meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
#   meson test -C build-asan --benchmark storm --verbose
# STORM_SEED=N repeats a run (the seed is printed first).
export STORM_KILLS=${STORM_KILLS:-1000}
export STORM_SECONDS=${STORM_SECONDS:-86400}
exec bash "$SHMFS_SOURCE_ROOT/test/fs/storm.sh"
