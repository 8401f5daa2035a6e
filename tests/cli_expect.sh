# Sourced by the command-line tests: `expect NAME EXPECTED_RC PATTERN -- COMMAND...` runs COMMAND and
# checks its exit code and that its output contains PATTERN; `finish` reports and sets the exit code.
# Needs $tmp (a scratch directory).
failures=0

expect() {
  local name=$1 want_rc=$2 pattern=$3
  shift 4
  "$@" > "$tmp/out" 2>&1
  local rc=$?
  if [ "$rc" -ne "$want_rc" ] || ! grep -qF -- "$pattern" "$tmp/out"; then
    echo "FAIL: $name (exit $rc, wanted $want_rc; looked for: $pattern)"
    sed 's/^/    /' "$tmp/out"
    failures=$((failures + 1))
  else
    echo "ok: $name"
  fi
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}
