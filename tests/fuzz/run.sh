#!/usr/bin/env bash
# Builds every libFuzzer target into build-fuzz/ (tests/fuzz/fuzz.mk: clang, ASan + UBSan),
# generates the seed corpora (build-fuzz/seeds-corpus/), replays every saved crash input
# (tests/fuzz/regressions/<target>/) and seed of every target first, then fuzzes each target
# for FUZZ_SECONDS (default 20) and prints the executions per target and in total. Exits
# non-zero on any build failure, regression or new crash (crash inputs land in
# build-fuzz/crashes/<target>/; README "## Tests" says how to keep one as a regression).
#   tests/fuzz/run.sh                 all targets
#   tests/fuzz/run.sh fuzz_socks ...  only these
#   FUZZ_SECONDS=0 tests/fuzz/run.sh  build + replay regressions and seeds only
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=build-fuzz
# fuzz_sip003 loads vmess.so from here (sanitizers, no coverage: see tests/fuzz/fuzz.mk).
export EVP_FUZZ_PLUGIN_DIR=${EVP_FUZZ_PLUGIN_DIR:-$PWD/$OUT/plugins-nocov}
SECONDS_EACH=${FUZZ_SECONDS:-20}
# One target per tests/fuzz/fuzz_*.c (tests/fuzz/fuzz.mk says what each links).
mapfile -t ALL < <(basename -s .c tests/fuzz/fuzz_*.c)
TARGETS=("${@:-${ALL[@]}}")

# A regressions folder that names no target would never be replayed.
for d in tests/fuzz/regressions/*/; do
    t=$(basename "$d")
    if [[ " ${ALL[*]} " != *" $t "* ]]; then
        echo "FAIL: tests/fuzz/regressions/$t: no such target"
        exit 1
    fi
done

echo "== build ${#TARGETS[@]} target(s)"
make -s -f tests/fuzz/fuzz.mk -j"$(nproc)" "${TARGETS[@]/#/$OUT/}" "$OUT/plugins/vmess.so" \
    "$OUT/plugins-nocov/vmess.so" "$OUT/seeds"

echo "== seed corpora (build took ${SECONDS}s)"
# Made from the current codecs each run (so never stale), outside the tree.
SEEDS=$OUT/seeds-corpus
rm -rf "$SEEDS"
"$OUT/seeds" "$SEEDS"

# first_error LOG: the sanitizer's or libFuzzer's one-line verdict, indented.
first_error() {
    grep -m1 -E '^==[0-9]+== ?ERROR|runtime error' "$1" | cut -c1-160 | sed 's/^/    /' || true
}

status=0
fuzzable=()
for t in "${TARGETS[@]}"; do
    mkdir -p "$SEEDS/$t"
    # The fixed crashes and the seeds: every one must run clean.
    files=()
    for f in tests/fuzz/regressions/"$t"/*; do
        [ -f "$f" ] && files+=("$f")
    done
    n_reg=${#files[@]}
    for f in "$SEEDS/$t"/*; do
        [ -f "$f" ] && files+=("$f")
    done
    echo "== replay $t: $n_reg regression(s), $((${#files[@]} - n_reg)) seed(s)"
    # As when fuzzing, an input that takes over 10 s counts as a failure (a hang).
    if [ ${#files[@]} -gt 0 ] &&
        ! "$OUT/$t" -runs=1 -timeout=10 "${files[@]}" >"$OUT/$t.replay.log" 2>&1; then
        echo "FAIL: $t fails on $(sed -n 's/^Running: //p' "$OUT/$t.replay.log" |
            tail -n 1); see $OUT/$t.replay.log"
        first_error "$OUT/$t.replay.log"
        status=1
        continue
    fi
    fuzzable+=("$t")
done

echo "== replays done at ${SECONDS}s"
total=0
[ "$SECONDS_EACH" -gt 0 ] || fuzzable=()
for t in "${fuzzable[@]}"; do
    mkdir -p "$OUT/crashes/$t" "$OUT/corpus/$t"
    # The working corpus grows in build-fuzz/corpus/ from one run to the next.
    if ! "$OUT/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$OUT/crashes/$t/" \
        "$OUT/corpus/$t" "$SEEDS/$t" >"$OUT/$t.log" 2>&1; then
        echo "FAIL: $t found a crash; see $OUT/$t.log and $OUT/crashes/$t/"
        first_error "$OUT/$t.log"
        status=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t.log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$OUT/$t.log" | tail -n 1)
    printf 'fuzz %-20s %10s executions in %ss (%s)\n' "$t" "${execs:-?}" "$SECONDS_EACH" \
        "${cov:-cov: ?}"
    total=$((total + ${execs:-0}))
done
if [ ${#fuzzable[@]} -gt 0 ]; then
    echo "fuzz total: $total executions, ${#fuzzable[@]} targets x ${SECONDS_EACH}s" \
        "(whole run ${SECONDS}s)"
fi
exit $status
