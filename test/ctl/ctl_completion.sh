# ctl_completion.sh - the bash completion of shmfsctl, loaded into a real
# bash and driven as bash drives it (COMP_WORDS, COMP_CWORD): subcommands
# (also in a chain), options, page types, nodes (N and nodeN), values of
# --sort, heap's actions, and the region names of the mount named by --mount.
. "$SHMFS_SOURCE_ROOT/test/harness.sh"
. "$SHMFS_SOURCE_ROOT/test/ctl/common.sh"

COMPLETION=$SHMFS_SOURCE_ROOT/utils/shmfsctl.bash-completion
BINDIR=$(dirname "$SHMFSCTL_BIN")

# comp WORD...: what completing the last word offers, sorted, on one line.
comp() {
	PATH=$BINDIR:$PATH SHMFS_PATH=/nonexistent bash --norc --noprofile -c '
		source "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(( $# - 1 ))
		_shmfsctl shmfsctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort -u | xargs' _ "$COMPLETION" "$@"
}

t_check "the script loads in bash and registers the completion" \
	bash --norc --noprofile -c "source '$COMPLETION' && complete -p shmfsctl | grep -q _shmfsctl"
ALL=$("$SHMFSCTL_BIN" --help | awk '/^  [a-z][a-z-]* / { print $1 }' | sort | xargs)
t_is "an empty word offers every subcommand of --help" "$ALL" "$(comp shmfsctl "")"
t_like "the new commands are among them" "(^| )doctor .*explain .*ls( |$)" "$ALL"
t_is "a prefix completes the subcommand" alloc "$(comp shmfsctl al)"
t_is "after global options too" explain "$(comp shmfsctl --mount "$T_DIR" --json ex)"
t_is "global options" "--json --mount" "$(comp shmfsctl --j) $(comp shmfsctl --m)"

t_mount
TYPES=$(ls "$T_MNT" | sort | xargs)
t_is "a TYPE argument offers the mount's page types" "$TYPES" "$(comp shmfsctl --mount "$T_MNT" create x 1 "")"
t_is "alloc's TYPE offers only types with a pool" "$(echo "$TYPES" | tr ' ' '\n' | grep -vx normal | xargs)" \
	"$(comp shmfsctl --mount "$T_MNT" alloc 4 "")"
t_like "a NODE argument offers N and nodeN" "(^| )$N0 .*node$N0( |$)" "$(comp shmfsctl alloc 4 huge "")"
t_is "nodeN completes from a prefix" "node$N0" "$(comp shmfsctl alloc 4 huge "node$N0")"
t_is "create's CPUS offers the nodes too" "node$N0" "$(comp shmfsctl create x 1 huge "node$N0")"

touch "$T_MNT/normal/node$N0/apple" "$T_MNT/normal/node$N0/apricot" "$T_MNT/huge/node$N0/banana"
t_is "region names of the mount named by --mount" "apple apricot" "$(comp shmfsctl --mount "$T_MNT" query ap)"
t_is "every region, of every type" "apple apricot banana" "$(comp shmfsctl --mount="$T_MNT" unlink "")"
t_is "the mount from SHMFS_PATH" "banana" \
	"$(PATH=$BINDIR:$PATH SHMFS_PATH=$T_MNT bash --norc --noprofile -c 'source "$1"; COMP_WORDS=(shmfsctl clean b); COMP_CWORD=2; _shmfsctl shmfsctl; echo "${COMPREPLY[@]}"' _ "$COMPLETION")"
t_is "clean takes any number of names" "apple apricot banana" "$(comp shmfsctl --mount "$T_MNT" clean apple "")"
t_is "create's NAME is new: no existing names offered" "" "$(comp shmfsctl --mount "$T_MNT" create a)"

t_is "an option of the command" "--sort" "$(comp shmfsctl ls --so)"
t_is "the values of ls --sort" "age name size type" "$(comp shmfsctl ls --sort "")"
t_is "the values of ls -s" "size" "$(comp shmfsctl ls -s si)"
t_is "heap's actions" "check reclaim usage" "$(comp shmfsctl heap "")"
t_is "after a full command the next one of the chain" "query quota" "$(comp shmfsctl alloc 4 huge 0 qu)"
t_is "a negative count is an argument, not an option" "gigantic huge" "$(comp shmfsctl alloc -2 "")"
t_is "after ls's options, the next command" "query quota" "$(comp shmfsctl ls --sort size qu)"

t_done
