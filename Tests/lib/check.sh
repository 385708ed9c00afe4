# Sourced by the shell test drivers (Tests/Service/run.sh, Tests/Boot/host.sh): one PASS or
# FAIL line per check, the failing check's output indented under it, and the tallies
# $passed and $failed for the driver's summary.
passed=0 failed=0
check() {  # check NAME COMMAND ARGS...
    local name=$1 out; shift
    out=$("$@" 2>&1)
    if [ $? = 0 ]; then
        echo "PASS $name"; passed=$((passed + 1))
    else
        echo "FAIL $name"; failed=$((failed + 1))
        [ -z "$out" ] || echo "$out" | sed 's/^/    /'
    fi
}
