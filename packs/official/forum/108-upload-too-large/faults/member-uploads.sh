# Members try to upload this morning's photos (run in the users container, over stdin): phone
# photos of a few MB, a screenshot, an icon. What nginx answers is in its access log.
key=2f9c4e1a7b3d5f60a8c1e2d4b6f8a0c3e5d7b9f1a3c5e7d9
upload() {
    head -c "$2" /dev/urandom | curl -s -o /dev/null -m 20 -A "$4" -H "Api-Key: $key" -H "Api-Username: $1" \
        -F "file=@-;filename=$3;type=image/jpeg" http://forum/uploads.json
}
upload mei 3481921 IMG_2291.jpg 'Lumen Community/2.3 (iPhone; iOS 17.5; Scale/3.00)'
upload tomasz 9817 favicon-lumen.png 'Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0'
upload mei 3502211 IMG_2291.jpg 'Lumen Community/2.3 (iPhone; iOS 17.5; Scale/3.00)'
upload elena 612004 screenshot-import-dialog.png 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'
upload sofia 5120887 DSC09142.jpg 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0 Safari/537.36'
upload kwame 2210398 PXL_20261207_071922.jpg 'Lumen Community/2.3 (Android 14; Pixel 7)'
exit 0
