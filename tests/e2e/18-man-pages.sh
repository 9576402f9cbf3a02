#!/usr/bin/env bash
# The man pages (contrib/man: evproxy(1), vmess-plugin(1), evproxy.json(5)): `make install`
# puts them under PREFIX/share/man; each renders with `man -l` at 80 columns, groff -ww
# warns about nothing, and no rendered line is wider than the terminal. First: installing
# from the build `make check` made compiles and links nothing (its absolute path named).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

for tool in man groff; do
    command -v "$tool" >/dev/null ||
        fail "$tool is not installed (contrib/install-deps.sh test: man-db groff)"
done
need_evproxy
ROOT=$E2E_TMP/root
# The build is complete as `make check` left it, named by its absolute path too: installing
# compiles and links nothing. (It relinked evproxy while e2e 17 ran it, CI's "Permission
# denied": the geo data object's path held $(BUILD), and plugin/*/plugin.o were deleted as
# intermediates.)
plan=$(make -n install BUILD="$EVP_BUILD" DESTDIR="$ROOT" PREFIX=/usr 2>&1 |
    grep -E '^(cc|gcc|clang|protoc-c) ' | sed -E 's/.* -o ([^ ]+).*/\1/' | tr '\n' ' ')
if [ -z "$plan" ]; then
    pass "make install BUILD=$EVP_BUILD builds nothing more"
else
    soft_fail "make install BUILD=$EVP_BUILD would build: $plan"
fi
# The install itself runs on a copy, so the build the other scripts run is never written.
BLD=$E2E_TMP/bld
mkdir -p "$BLD"
cp -a "$EVP_BUILD/obj" "$EVP_BUILD/gen" "$EVP_BUILD/plugins" "$EVP_BUILD/evproxy" "$BLD/"
if ! make -s install BUILD="$BLD" DESTDIR="$ROOT" PREFIX=/usr >"$E2E_TMP/install.log" 2>&1
then
    show_log install
    fail "make install failed"
fi

for page in man1/evproxy.1 man1/vmess-plugin.1 man5/evproxy.json.5; do
    f=$ROOT/usr/share/man/$page
    name=$(basename "$page")
    if [ ! -f "$f" ]; then
        soft_fail "$name: not installed as $f"
        continue
    fi
    cmp -s "$f" "contrib/man/$name" || soft_fail "$name: the installed page differs"
    warn=$(groff -ww -z -man "$f" 2>&1)
    [ -z "$warn" ] || soft_fail "$name: groff warns: $warn"
    if ! MANWIDTH=80 man -l "$f" >"$E2E_TMP/$name.txt" 2>"$E2E_TMP/$name.err" ||
        [ -s "$E2E_TMP/$name.err" ]; then
        soft_fail "$name: man -l: $(head -c 300 "$E2E_TMP/$name.err")"
        continue
    fi
    wide=$(awk 'length > 80' "$E2E_TMP/$name.txt" | head -1)
    [ -z "$wide" ] || soft_fail "$name: a line wider than 80 columns: $wide"
    if grep -q '^NAME' "$E2E_TMP/$name.txt" && grep -q '^SEE ALSO' "$E2E_TMP/$name.txt"; then
        pass "$name: installed, renders ($(wc -l <"$E2E_TMP/$name.txt") lines at 80 columns)"
    else
        soft_fail "$name: no NAME or SEE ALSO section in the rendered page"
    fi
done
finish
