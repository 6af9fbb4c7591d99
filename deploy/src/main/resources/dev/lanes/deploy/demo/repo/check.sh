#!/bin/sh
# Passes only when every module named (default: all of them) carries the rename: no userId left, accountId present,
# and for docs a changelog entry.
modules=${*:-core api web docs}
failed=0
for m in $modules; do
  if [ "$m" = docs ]; then
    grep -q accountId docs/CHANGES.md || { echo "docs: CHANGES.md has no entry for accountId"; failed=1; }
    continue
  fi
  if grep -rq userId "$m"; then echo "$m: still says userId"; failed=1; fi
  grep -rq accountId "$m" || { echo "$m: says accountId nowhere"; failed=1; }
done
[ "$failed" = 0 ] && echo "check passed: $modules"
exit "$failed"
