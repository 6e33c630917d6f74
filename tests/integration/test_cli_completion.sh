#!/usr/bin/env bash
# sluice completion bash: the script completes commands and each command's verbs, and the verbs
# it offers are exactly the ones each command's --help documents (so the table in main.c cannot
# drift from the commands). No broker needed.
source "$(dirname "$0")/lib/broker.sh"
S="$SLUICE"
$S completion bash > "$T/comp" || fail "completion bash"
bash -n "$T/comp" || fail "completion script does not parse"
complete_words() { # complete_words WORD...: what the script offers for the last word
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sluice;
           printf "%s\n" "${COMPREPLY[@]}"' _ "$T/comp" "$@"
}
[[ "$(complete_words sluice clu)" == cluster ]] || fail "command: $(complete_words sluice clu)"
[[ "$(complete_words sluice cluster lo)" == logdirs ]] || fail "verb: $(complete_words sluice cluster lo)"
[[ "$(complete_words sluice topic a | sort | tr '\n' ' ')" == "add-partitions alter-config " ]] ||
  fail "topic a: $(complete_words sluice topic a)"
# Every command with verbs: the offered verbs = the verbs its --help shows as "sluice CMD VERB".
n=0
while read -r cmd offered; do
  documented=$($S "$cmd" --help 2>&1 | grep -oE "sluice $cmd [a-z][a-z-]*" | awk '{print $3}' | sort -u | tr '\n' ' ')
  offered=$(tr ' ' '\n' <<<"$offered" | grep -v -- '^--help$' | grep -v '^$' | sort -u | tr '\n' ' ')
  [[ "$documented" == "$offered" ]] || fail "$cmd: --help documents '$documented', completion offers '$offered'"
  n=$((n + 1))
done < <(sed -n 's/^        \([a-z]*\)) words="\(.*\)" ;;$/\1 \2/p' "$T/comp")
[[ $n -ge 8 ]] || fail "only $n commands with verbs in the script"
$S completion zsh >/dev/null 2>&1 && fail "completion zsh should be refused"
echo ok
