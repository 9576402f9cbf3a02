#!/usr/bin/env bash
# Builds every libFuzzer target into build-fuzz/ (clang, ASan + UBSan), regenerates the
# seed corpora, replays the saved crash inputs (tests/fuzz/regressions/<target>/), then
# fuzzes each target for FUZZ_SECONDS (default 20). Exits non-zero on any build failure,
# regression or new crash (crash inputs land in build-fuzz/crashes/<target>/).
#   tests/fuzz/run.sh                 all targets
#   tests/fuzz/run.sh fuzz_socks ...  only these
#   FUZZ_SECONDS=0 tests/fuzz/run.sh  build + replay regressions and seeds only
set -euo pipefail
cd "$(dirname "$0")/../.."

CC=${FUZZ_CC:-clang}
OUT=build-fuzz
SECONDS_EACH=${FUZZ_SECONDS:-20}
FLAGS=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
       -Icore/include -Icore -DEVP_HAVE_PCRE2 '-DEVP_VERSION="fuzz"' '-DEVP_PREFIX="/usr/local"')
LIBS=(-lsodium -lnettle -ljansson -lcares -lpcre2-8 -lev -lpthread -lm -ldl)

VMESS=(plugin/vmess/*.c)
JSONSCHEMA=(core/jsonschema.c core/jsonschema_assert.c core/jsonschema_check.c
            core/jsonschema_equal.c core/jsonschema_format.c core/jsonschema_ref.c
            core/jsonschema_regex.c)
BUILTIN=(core/builtin/*.c)
CORE_ALL=($(ls core/*.c core/builtin/*.c | grep -v '^core/main.c$'))

# The sources each target links besides its own file.
sources() {
    case "$1" in
    fuzz_socks) echo "${BUILTIN[@]}" core/log.c ;;
    fuzz_vmess_*) echo "${VMESS[@]}" core/log.c ;;
    fuzz_jsonschema) echo "${JSONSCHEMA[@]}" core/errlist.c ;;
    fuzz_settings) echo "${BUILTIN[@]}" "${VMESS[@]}" "${JSONSCHEMA[@]}" core/errlist.c core/log.c ;;
    fuzz_sip003) echo "${CORE_ALL[@]}" ;; # the registry loads build/plugins/vmess.so
    fuzz_config) echo "${CORE_ALL[@]}" ;;
    *) echo "unknown target $1" >&2; return 1 ;;
    esac
}

ALL=(fuzz_socks fuzz_vmess_inbound fuzz_vmess_outbound fuzz_vmess_body fuzz_vmess_header
     fuzz_jsonschema fuzz_settings fuzz_sip003 fuzz_config)
TARGETS=("${@:-${ALL[@]}}")

mkdir -p "$OUT/crashes"
for t in "${TARGETS[@]}"; do
    echo "== build $t"
    # shellcheck disable=SC2046
    "$CC" "${FLAGS[@]}" "tests/fuzz/$t.c" $(sources "$t") -o "$OUT/$t" "${LIBS[@]}"
done

# fuzz_config loads vmess.so from build-fuzz/plugins/: build it with the same sanitizers.
mkdir -p "$OUT/plugins"
"$CC" -std=c11 -D_GNU_SOURCE -g -O1 -fPIC -shared -fvisibility=hidden \
    -fsanitize=fuzzer-no-link,address,undefined -Wall -Wextra -Werror -Wno-unused-parameter \
    -Icore/include "${VMESS[@]}" -o "$OUT/plugins/vmess.so" -lsodium -lnettle -ljansson

# Seeds are regenerated each run: real VMess traffic comes from the codecs themselves.
echo "== seed corpora"
"$CC" -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
    -Icore/include -Icore tests/fuzz/seeds.c "${VMESS[@]}" core/log.c -o "$OUT/seeds" "${LIBS[@]}"
rm -rf tests/fuzz/corpus
"$OUT/seeds" tests/fuzz/corpus

status=0
for t in "${TARGETS[@]}"; do
    corpus=tests/fuzz/corpus/$t
    mkdir -p "$corpus" "$OUT/crashes/$t" "$OUT/corpus/$t"
    # Replay the fixed crashes and the seeds: every one must run clean.
    replay=()
    [ -d "tests/fuzz/regressions/$t" ] && replay+=(tests/fuzz/regressions/"$t"/*)
    replay+=("$corpus"/*)
    files=()
    for f in "${replay[@]}"; do [ -f "$f" ] && files+=("$f"); done
    if [ ${#files[@]} -gt 0 ]; then
        echo "== replay $t (${#files[@]} inputs)"
        if ! "$OUT/$t" -runs=1 "${files[@]}" >"$OUT/$t.replay.log" 2>&1; then
            echo "FAIL: $t crashes on a saved input; see $OUT/$t.replay.log"
            status=1
            continue
        fi
    fi
    [ "$SECONDS_EACH" -gt 0 ] || continue
    echo "== fuzz $t for ${SECONDS_EACH}s"
    # The working corpus lives in build-fuzz/, so the tree keeps only the small seeds.
    if ! "$OUT/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$OUT/crashes/$t/" \
        "$OUT/corpus/$t" "$corpus" >"$OUT/$t.log" 2>&1; then
        echo "FAIL: $t found a crash; see $OUT/$t.log and $OUT/crashes/$t/"
        status=1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov: ' "$OUT/$t.log" | tail -n 3 || true
done
exit $status
