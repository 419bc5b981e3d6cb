#!/usr/bin/env bash
# Fixed = a member's 5 MB photo uploads through nginx and is stored intact: from the users
# container (a member's side of the network), POST /uploads.json on http://forum with the
# members' API key answers 200 with the upload's URL and size, the URL names the photo's SHA-1
# (the app hashed what it received), and the file stored under that URL on the forum box has the
# same SHA-1.
# The photo is the same 5 MB every time (a keystream from a fixed key), so repeated checks store
# one file, not one per run.
# What runs in the containers goes over stdin (sh -s): the trainee's `ps` shows none of it.
set -euo pipefail
url=$(docker compose exec -T users sh -s <<'EOF_UPLOAD'
photo() {
    openssl enc -aes-128-ctr -nosalt -K 6c756d656e2d666f72756d2d70686f74 -iv 00000000000000000000000000000001 \
        < /dev/zero 2>/dev/null | head -c 5242880
}
sum=$(photo | sha1sum)
sum=${sum%% *}
answer=$(photo | curl -sS -m 10 -w '\n%{http_code}' -A 'Lumen Community/2.3 (iPhone; iOS 17.5; Scale/3.00)' \
    -H 'Api-Key: 2f9c4e1a7b3d5f60a8c1e2d4b6f8a0c3e5d7b9f1a3c5e7d9' -H 'Api-Username: mei' \
    -F 'file=@-;filename=IMG_2291.jpg;type=image/jpeg' http://forum/uploads.json 2>&1) || {
    echo "upload: $answer" >&2
    exit 1
}
status=${answer##*"
"}
body=${answer%"
$status"}
if [ "$status" != 200 ]; then
    echo "upload: HTTP $status: $(printf '%s' "$body" | head -c 300)" >&2
    exit 1
fi
url=${body#*'"url":"'}
url=${url%%'"'*}
case $url in
    /uploads/*/"$sum".jpg) ;;
    *) echo "upload: the answer does not name the photo's SHA-1 $sum: $body" >&2; exit 1 ;;
esac
case $body in
    *'"filesize":5242880'*) ;;
    *) echo "upload: the app did not receive 5242880 bytes: $body" >&2; exit 1 ;;
esac
echo "$url"
EOF_UPLOAD
)
docker compose exec -T -e URL="$url" forum sh -s <<'EOF_STORED'
file=/var/www/forum/public$URL
sum=${URL##*/}
sum=${sum%.jpg}
stored=$(sha1sum < "$file") || { echo "upload: $file is not there" >&2; exit 1; }
[ "${stored%% *}" = "$sum" ] && exit 0
echo "upload: $file has SHA-1 ${stored%% *}, not $sum" >&2
exit 1
EOF_STORED
