#!/usr/bin/env bash
# Guard: the leaked SMTP password stays dead at the provider. mailhost refuses a revoked
# password through its API, but its credentials file in the mail service can be edited by
# hand: no login may be active again with a password that was revoked (its hash is in the
# login's revoked list), and the forum's original login may not be active with the password
# that leaked once its revocation happened (the break). The logic goes over stdin.
set -euo pipefail
docker compose exec -T mail sh -s <<'EOS'
leaked=f74ff24c1dae25741f1cd943799f32ee6e0a1fa58e4fb5a1d77e6189c4626ba3
revoked_once=no
grep -qF '"event":"credential_revoked","login":"postmaster@forum.example"' /var/lib/mailhost/events.log \
    && revoked_once=yes
while IFS='|' read -r login hash state created changed revoked note; do
    [ "$state" = active ] && [ -n "$hash" ] || continue
    case ",$revoked," in
        *",$hash,"*) echo "$login is active again with a revoked password" >&2; exit 1 ;;
    esac
    if [ "$login" = postmaster@forum.example ] && [ "$hash" = "$leaked" ] && [ "$revoked_once" = yes ]; then
        echo "$login is active again with the leaked password" >&2
        exit 1
    fi
done < /var/lib/mailhost/credentials
exit 0
EOS
