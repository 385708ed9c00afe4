# Sourced by the shell test drivers (Tests/Service/run.sh, Tests/Boot/host.sh, Tests/DataPath/run.sh,
# Scripts/boot-test, Scripts/service-test): one PASS or FAIL line per check, the failing check's
# output indented under it, the tallies $passed and $failed, and `summary`'s last line
# "N passed, N failed", which Scripts/test adds up (the Python runners' twin is
# ipvstest.Tally in Tests/lib/ipvstest.py).
passed=0 failed=0
report() {  # report NAME STATUS [DETAILS]: PASS when STATUS is 0
    if [ "$2" = 0 ]; then
        echo "PASS $1"; passed=$((passed + 1))
    else
        echo "FAIL $1"; failed=$((failed + 1))
        [ -z "${3:-}" ] || echo "$3" | sed 's/^/    /'
    fi
}
check() {  # check NAME COMMAND ARGS...: PASS when the command succeeds, else its output under FAIL
    local name=$1 out status; shift
    out=$("$@" 2>&1)
    status=$?
    report "$name" "$status" "$out"
}
summary() {  # "N passed, N failed"; status 0 only if nothing failed
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
