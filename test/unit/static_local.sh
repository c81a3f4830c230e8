#!/bin/bash
# static_local.sh - the static libshmfs.a as installed (packaging/
# localize-static.sh runs at install time) has only the public API global:
# every internal helper, hidden in the shared library, is local in the
# archive too, and every public function is still there.
# Usage (meson): static_local.sh LIBSHMFS_A LOCALIZE_SCRIPT
in=$1
localize=$2
n=0 fail=0
ok()     { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "visibility name" of every defined global symbol of an archive
globals() { readelf -sW "$1" | awk '$5 == "GLOBAL" && $7 != "UND" { print $6, $8 }' | sort -u; }

if "$localize" "$in" "$tmp/libshmfs.a" 2>"$tmp/err"; then
	ok "the archive can be localised"
else
	not_ok "the archive can be localised"; sed 's/^/# /' "$tmp/err"
fi
hidden=$(globals "$tmp/libshmfs.a" | awk '$1 != "DEFAULT" { print $2 }')
if [ -z "$hidden" ]; then ok "no internal (hidden) symbol is global any more"
else not_ok "no internal (hidden) symbol is global any more"; printf '# %s\n' $hidden | head -n 20; fi
want=$(globals "$in" | awk '$1 == "DEFAULT" { print $2 }')
have=$(globals "$tmp/libshmfs.a" | awk '$1 == "DEFAULT" { print $2 }')
if [ -n "$want" ] && [ "$want" = "$have" ]; then ok "every public symbol is still global"
else not_ok "every public symbol is still global"; diff <(echo "$want") <(echo "$have") | sed 's/^/# /' | head -n 20; fi
if [ "$(globals "$in" | awk '$1 != "DEFAULT"' | wc -l)" -gt 0 ]; then
	ok "(the archive as built did have hidden globals to localise)"
else
	not_ok "(the archive as built did have hidden globals to localise)"
fi
echo "1..$n"
exit $fail
