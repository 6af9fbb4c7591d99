#!/bin/sh
# Passes only when every module named (default: all of them) carries the rename: no userId left, accountId present,
# and for docs a changelog entry.
# With --green it checks what must hold after every landing instead: no module is half renamed.
if [ "$1" = --green ]; then
  failed=0
  for m in core api web; do
    if grep -rq userId "$m" && grep -rq accountId "$m"; then echo "$m: half renamed"; failed=1; fi
  done
  [ "$failed" = 0 ] && echo "green: no module is half renamed"
  exit "$failed"
fi
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
