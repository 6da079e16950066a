#!/usr/bin/env bash
# check-html.sh: open a report.html in headless Chromium, take a screenshot, and fail unless every
# picture on the page loaded (decoded to an image with a width), so that a report whose pictures
# are missing or broken is caught before anyone opens it.
#
# Usage: scripts/check-html.sh REPORT.html [SCREENSHOT.png]
#   SCREENSHOT defaults to REPORT's folder/report-screenshot.png.
# Environment:
#   CHROMIUM=/usr/bin/chromium   the browser (Debian's chromium package)
#   WIDTH=1280 HEIGHT=6000       the screenshot's size in pixels
#
# How: a copy of the page gets a script that, once the page has loaded, writes into the body's
# data-images attribute how many <img> there are and how many decoded (complete with a natural
# width above 0); Chromium's --dump-dom prints the page as it then stands.
set -euo pipefail

if (($# < 1 || $# > 2)); then
	echo "usage: $0 REPORT.html [SCREENSHOT.png]" >&2
	exit 2
fi
page=$1
[[ -f $page ]] || { echo "check-html: $page: no such file" >&2; exit 2; }
shot=${2:-$(dirname "$page")/report-screenshot.png}
browser=${CHROMIUM:-/usr/bin/chromium}
command -v "$browser" >/dev/null || { echo "check-html: $browser not found (apt-get install chromium)" >&2; exit 2; }

tmp=$(mktemp -d)
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
	--disable-component-update --disable-sync --hide-scrollbars --virtual-time-budget=10000)

# The copy sits beside the original, so that relative picture paths (if any) resolve alike.
probe=$(dirname "$page")/.check-html-$$.html
trap 'rm -rf "$tmp" "$probe"' EXIT
sed 's#</body>#<script>window.addEventListener("load", function () { var imgs = document.images, ok = 0; for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete \&\& imgs[i].naturalWidth > 0) ok++; } document.body.setAttribute("data-images", ok + " of " + imgs.length); });</script></body>#' "$page" >"$probe"
grep -q 'data-images' "$probe" || { echo "check-html: $page has no </body>" >&2; exit 1; }

dom=$("$browser" "${flags[@]}" --user-data-dir="$tmp/profile-dom" --dump-dom "file://$(realpath "$probe")" 2>"$tmp/dom.log") || {
	echo "check-html: chromium failed:" >&2
	tail -20 "$tmp/dom.log" >&2
	exit 1
}
state=$(grep -o 'data-images="[0-9]* of [0-9]*"' <<<"$dom" | head -1 | sed 's/data-images="\(.*\)"/\1/')
if [[ -z $state ]]; then
	echo "check-html: $page: the page's load event never came (no data-images in the dumped page)" >&2
	exit 1
fi
loaded=${state%% of *}
total=${state##* of }

"$browser" "${flags[@]}" --user-data-dir="$tmp/profile-shot" --window-size="${WIDTH:-1280},${HEIGHT:-6000}" \
	--screenshot="$(realpath -m "$shot")" "file://$(realpath "$page")" 2>"$tmp/shot.log" || {
	echo "check-html: chromium's screenshot failed:" >&2
	tail -20 "$tmp/shot.log" >&2
	exit 1
}
[[ -s $shot ]] || { echo "check-html: no screenshot written to $shot" >&2; exit 1; }

if ((total == 0)); then
	echo "check-html: $page: no pictures at all" >&2
	exit 1
fi
if ((loaded != total)); then
	echo "check-html: $page: only $loaded of $total pictures loaded; screenshot $shot" >&2
	exit 1
fi
echo "check-html: $page: $loaded of $total pictures loaded; screenshot $shot"
