#!/bin/bash
# anchors.sh BENCH [SCALE [WORKLOAD]] - runs the heap benchmark once per
# process-local allocator installed: glibc, then jemalloc, mimalloc and
# tcmalloc preloaded (Debian: libjemalloc2, libmimalloc2.0,
# libgoogle-perftools4t64), so that each prints the libshmfs heap's ratios
# against it, measured in the same run. Allocators not installed are skipped.
bench=$1; shift
lib=/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
echo "### malloc = glibc"
"$bench" "$@"
for a in libjemalloc.so.2 libmimalloc.so.2 libtcmalloc.so.4; do
	if [ -e "$lib/$a" ]; then
		echo "### malloc = ${a%%.so*}"
		LD_PRELOAD=$lib/$a "$bench" "$@"
	else
		echo "### ${a%%.so*}: not installed, skipped"
	fi
done
