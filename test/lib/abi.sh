#!/bin/bash
# abi.sh - the shared library exports exactly the public API: every defined
# dynamic symbol is a shmfs_* function versioned SHMFS_0.N (the node of the
# release that added it, as the version script and the Debian symbols file
# both say), and every join and region function the header documents is there. The static library of
# the build tree keeps its internal symbols global (the tests and the daemon
# link them; the installed one is localized, see test/unit/static_local.sh),
# so they must at least stay in the library's name space (shmfs_*), never
# take a name like heap_view from the application.
# The Debian symbols file lists exactly the exported functions (a function
# missing there makes dpkg-gensymbols add it with the Debian revision, which
# lintian rejects).
# Usage (meson): abi.sh LIBSHMFS_SO SHMFS_H LIBSHMFS_A DEBIAN_SYMBOLS
so=$1
header=$2
static=$3
symfile=$4
n=0 fail=0
ok()     { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }

syms=$(nm -D --defined-only "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" { print $3 }')
bad=$(printf '%s\n' "$syms" | grep -Ev '^shmfs_[a-z0-9_]+@@SHMFS_0\.[0-9]+$' || true)
if [ -z "$bad" ]; then ok "every exported symbol is shmfs_* at a version node SHMFS_0.N"
else not_ok "every exported symbol is shmfs_* at a version node SHMFS_0.N"; printf '# %s\n' $bad; fi

missing=
for f in $(grep -Eo 'SHMFS_API [^(]*\b(shmfs_[a-z_]+)\(' "$header" | grep -Eo 'shmfs_[a-z_]+\($' | tr -d '('); do
	printf '%s\n' "$syms" | grep -q "^$f@@" || missing="$missing $f"
done
if [ -z "$missing" ]; then ok "every function in shmfs.h is exported"
else not_ok "every function in shmfs.h is exported"; echo "# missing:$missing"; fi

listed=$(awk '/^ shmfs_/ { sub(/@.*/, "", $1); print $1 }' "$symfile" | sort)
exported=$(printf '%s\n' "$syms" | grep '^shmfs_' | sed 's/@.*//' | sort)
if [ "$listed" = "$exported" ]; then ok "the Debian symbols file lists exactly the exported functions"
else not_ok "the Debian symbols file lists exactly the exported functions"
	diff <(echo "$listed") <(echo "$exported") | sed 's/^/# /'; fi
# the version node of each symbol, as exported and as the symbols file has it
# (a symbol that moved node breaks every program linked against it)
listed=$(awk '/^ shmfs_/ { print $1 }' "$symfile" | sort)
exported=$(printf '%s\n' "$syms" | grep '^shmfs_' | sed 's/@@/@/' | sort)
if [ "$listed" = "$exported" ]; then ok "every symbol is at the version node the symbols file gives"
else not_ok "every symbol is at the version node the symbols file gives"
	diff <(echo "$listed") <(echo "$exported") | sed 's/^/# /'; fi
bad=$(awk '/^ shmfs_/ { split($1, a, "@SHMFS_"); if ($2 != a[2] ".0") print }' "$symfile")
if [ -z "$bad" ]; then ok "each symbol's minimum version is the release of its node (SHMFS_0.N: 0.N.0)"
else not_ok "each symbol's minimum version is the release of its node (SHMFS_0.N: 0.N.0)"; printf '# %s\n' "$bad"; fi
bad=$(awk '/^ / && $NF ~ /-/' "$symfile")
if [ -z "$bad" ]; then ok "no symbol's version carries a Debian revision"
else not_ok "no symbol's version carries a Debian revision"; printf '# %s\n' "$bad"; fi

# (__odr_asan.*: AddressSanitizer's own markers of global variables)
bad=$(nm -g --defined-only "$static" | awk 'NF == 3 { print $3 }' | grep -Ev '^(shmfs_|__odr_asan)' || true)
if [ -z "$bad" ]; then ok "every global symbol of the static library is shmfs_*"
else not_ok "every global symbol of the static library is shmfs_*"; printf '# %s\n' $bad; fi

echo "1..$n"
exit $fail
