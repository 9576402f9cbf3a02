#!/usr/bin/env bash
# The core knows no protocol (issue 10): core/ outside core/builtin/ must not name a
# protocol's settings or user fields; users and SIP003 options reach plugins as opaque JSON
# through the ABI 1.2 ops. core/builtin/ is exempt: the built-ins ARE protocols, linked in.
# Exceptions, one (file, string) pair each:
#   core/config/config.c, core/control/control.c "clients": the key of the clientsFile format
#     ({"clients": [...]}), a file format of the core's, documented in README.
#   core/sip003/sip003.c "clients": the SIP003 option clients=FILE (shared/sip003.md), the
#     host's.
#   core/config/stream_settings.c "security": streamSettings.security, a transport field of
#     the config (it moved there from config.c).
#   core/sip003/stream_opts.c "security": the same field, built from SIP003's tls option.
#   core/config/config.c "servers" next to "dns": dns.servers, the config's DNS block (the
#     resolver's).
#   core/control/control.c "email": the stats reply's per-user key, filled from the ABI's
#     session_user label (not read from any settings).
# ("users" is the control socket's own reply/request key and "uuid" a JSON Schema format.)
#   core/config/default_config.c: the embedded sample config is data (a vmess inbound), not code
#     that reads a field.
set -u
cd "$(dirname "$0")/.."
# Quoted JSON keys of VMess (and other protocols') settings and users.
FIELDS='"(id|alterId|level|email|clients|vnext|security|servers|password|method|flow)"'
# The core's sources: core/ and its folders, but not core/builtin/ or core/include/.
mapfile -t CORE_FILES < <(find core -path core/builtin -prune -o -path core/include -prune \
    -o -name '*.[ch]' -print | sort)
fails=0
while IFS= read -r hit; do
    file=${hit%%:*}
    case "$file:$hit" in
    core/config/default_config.c:*) continue ;;
    core/config/config.c:*'"clients"'*|core/control/control.c:*'"clients"'*) continue ;;
    core/sip003/sip003.c:*'"clients"'*) continue ;;
    core/config/stream_settings.c:*'"security"'*|core/control/control.c:*'"email"'*) continue ;;
    core/sip003/stream_opts.c:*'"security"'*) continue ;;
    core/config/config.c:*'"dns"'*'"servers"'*) continue ;;
    esac
    echo "core names a protocol field: $hit"
    fails=$((fails + 1))
done < <(grep -nE "$FIELDS" "${CORE_FILES[@]}" core/include/evproxy/*.h |
    grep -vE '^[^:]+:[0-9]+:\s*(/\*|\*)')
# Protocol-specific identifiers outside comments.
while IFS= read -r hit; do
    echo "core names a protocol field: $hit"
    fails=$((fails + 1))
done < <(grep -nE 'alterId|alter_id|vnext|cmdKey' "${CORE_FILES[@]}" |
    grep -vE '^[^:]+:[0-9]+:\s*(/\*|\*)' |
    grep -v '^core/config/default_config.c:')
if [ "$fails" -gt 0 ]; then
    echo "core_knows_no_protocol: $fails hit(s); move the field into its plugin (ABI users ops)"
    exit 1
fi
echo "core_knows_no_protocol: PASS (core/ outside core/builtin/ names no protocol field)"
