# The seconds each test case took, from the logs of a runner (test/main.c stamps each line
# with minutes:seconds since its start; test/run_shards.sh keeps a log per shard): a line
# "suite:tcase seconds" per case, the costliest first, as test/shard_tcases.c reads them.
#   awk -f test/shard_costs/from_log.awk build/shards/shard-*.log > test/shard_costs/NAME.txt
# A test's time runs from the result before it to its own; a case's is its tests' sum.
function stamp(   text, part) {
    text = substr($0, 2, index($0, "]") - 2)
    gsub(/ /, "", text)
    split(text, part, ":")
    return part[1] * 60 + part[2]
}
FNR == 1 { suite = ""; last = 0 }
!/^\[ *[0-9]+:[0-9][0-9]\] / { next }
/\] Running suite [A-Za-z0-9_]+$/ { suite = $NF }
{
    now = stamp()
    if (now < last)   # a stamp going back: another runner's output in the same log
        last = 0
    # A result: "[ m:ss] FILE:LINE:P|F|E:TCASE:TEST:I: message".
    if (suite != "" && split(substr($0, index($0, "]") + 2), field, ":") >= 5 &&
        field[3] ~ /^[PFE]$/) {
        seconds[suite ":" field[4]] += now - last
        last = now
    }
}
END {
    for (key in seconds)
        printf "%s %d\n", key, seconds[key] | "sort -k2,2nr -k1,1"
}
