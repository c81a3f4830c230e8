#!/bin/bash
# abi.sh - the shared library exports exactly the public API, versioned the
# way a distribution can live with, and the public structs keep their layout:
#  - every defined dynamic symbol is a shmfs_* function at a version node
#    SHMFS_0.N, the node of the release that added it (one node per release,
#    as libfuse does; a symbol never moves), and the newest node is the
#    library's version (api.h);
#  - every function the public headers declare (shmfs.h, heap.h) is there;
#  - the Debian symbols file lists exactly the exported functions, each at
#    its node and with that release as minimum version, without a Debian
#    revision (a function missing there makes dpkg-gensymbols add it with the
#    Debian revision, which lintian rejects);
#  - the static library of the build tree keeps its internal symbols global
#    (the tests and the daemon link them; the installed one is localized, see
#    test/unit/static_local.sh), so they must at least stay in the library's
#    name space (shmfs_*), never take a name like heap_view from the
#    application;
#  - the size, alignment and field offsets of every public struct, and the
#    public constants, are those of the checked-in table
#    abi_layout.<machine>.txt (printed by abi_layout.c): changing the table is
#    changing the ABI, on purpose and in review.
# Usage (meson): abi.sh LIBSHMFS_SO LIBSHMFS_A DEBIAN_SYMBOLS VERSION_SCRIPT
#                       ABI_LAYOUT_BIN TABLE_DIR HEADER...
so=$1 static=$2 symfile=$3 map=$4 layout=$5 table_dir=$6
shift 6
headers=("$@")
api_h=$(dirname "${headers[0]}")/api.h
n=0 fail=0
ok()     { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }
# check DESCRIPTION OUTPUT: ok when OUTPUT is empty, else not ok showing it
check() { if [ -z "$2" ]; then ok "$1"; else not_ok "$1"; printf '%s\n' "$2" | sed 's/^/# /'; fi; }

syms=$(nm -D --defined-only "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" { print $3 }')
check "every exported symbol is shmfs_* at a version node SHMFS_0.N" \
	"$(printf '%s\n' "$syms" | grep -Ev '^shmfs_[a-z0-9_]+@@SHMFS_0\.[0-9]+$')"

major=$(awk '/#define SHMFS_VERSION_MAJOR/ { print $3 }' "$api_h")
minor=$(awk '/#define SHMFS_VERSION_MINOR/ { print $3 }' "$api_h")
newest=$(grep -Eo '^SHMFS_[0-9]+\.[0-9]+' "$map" | sort -t. -k2 -n | tail -1)
check "the newest version node is the library's version (api.h: $major.$minor)" \
	"$([ "$newest" = "SHMFS_$major.$minor" ] || echo "newest node $newest")"

missing=
for h in "${headers[@]}"; do
	for f in $(grep -Eo 'SHMFS_API [^(]*\b(shmfs_[a-z_]+)\(' "$h" | grep -Eo 'shmfs_[a-z_]+\($' | tr -d '('); do
		printf '%s\n' "$syms" | grep -q "^$f@@" || missing="$missing $f"
	done
done
check "every function of the public headers is exported" "${missing:+missing:$missing}"

listed=$(awk '/^ shmfs_/ { sub(/@.*/, "", $1); print $1 }' "$symfile" | sort)
exported=$(printf '%s\n' "$syms" | grep '^shmfs_' | sed 's/@.*//' | sort)
check "the Debian symbols file lists exactly the exported functions" \
	"$(diff <(echo "$listed") <(echo "$exported"))"

# a symbol that moved node breaks every program linked against it
listed=$(awk '/^ shmfs_/ { print $1 }' "$symfile" | sort)
exported=$(printf '%s\n' "$syms" | grep '^shmfs_' | sed 's/@@/@/' | sort)
check "every symbol is at the version node the symbols file gives" \
	"$(diff <(echo "$listed") <(echo "$exported"))"
check "each symbol's minimum version is the release of its node (SHMFS_0.N: 0.N.0)" \
	"$(awk '/^ shmfs_/ { split($1, a, "@SHMFS_"); if ($2 != a[2] ".0") print }' "$symfile")"
check "no symbol's version carries a Debian revision" "$(awk '/^ / && $NF ~ /-/' "$symfile")"

# (__odr_asan.*: AddressSanitizer's own markers of global variables)
check "every global symbol of the static library is shmfs_*" \
	"$(nm -g --defined-only "$static" | awk 'NF == 3 { print $3 }' | grep -Ev '^(shmfs_|__odr_asan)')"

table=$table_dir/abi_layout.$(uname -m).txt
if [ -f "$table" ]; then
	check "the public structs and constants have the layout of $(basename "$table")" \
		"$(diff "$table" <("$layout") | grep '^[<>]' | sed 's/^</table:/; s/^>/now:  /')"
else
	not_ok "there is a layout table for $(uname -m)"
	echo "# make it with: $layout > $table (and review it)"
fi
# every struct a public header defines is in the table
unlisted=
for s in $(cat "${headers[@]}" | grep -Eo '^(typedef )?struct shmfs_[a-z_]+ \{' | awk '{ print $(NF - 1) }'); do
	grep -Eq "^(struct $s|${s}_t) size" "$table" 2>/dev/null || unlisted="$unlisted $s"
done
check "every public struct is in the layout table" "${unlisted:+not listed:$unlisted}"

echo "1..$n"
exit $fail
