#!/usr/bin/env bash
# Smoke test of the real cashier window (GL driver) under Xvfb.
#
#   test/ui/smoke.sh                 # the window on the fake backend (test/ui/fakeagent)
#   test/ui/smoke.sh posagent demo   # any command that opens the window, e.g. the agent's demo
#
# It starts Xvfb, runs the command, waits for a window titled "posagent",
# takes a screenshot of the root window with `import -window root` (Fyne's
# own Capture is black under Xvfb) into artifacts/ui/smoke.png, checks the
# picture is not blank, stops the command with SIGTERM (it must exit 0)
# and stops what it started (by PID only).
# `make test-deps` installs what it needs (Xvfb, x11-utils, imagemagick, xdotool).
set -euo pipefail
cd "$(dirname "$0")/../.."

for c in Xvfb xwininfo import identify; do
	command -v "$c" >/dev/null || { echo "smoke: $c missing (make test-deps as root installs it)"; exit 1; }
done

out=artifacts/ui
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

if [ $# -eq 0 ]; then
	go build -o "$work/fakeagent" ./test/ui/fakeagent
	set -- "$work/fakeagent" -quit-after 60s
fi

# A free display number.
d=99
while [ -e "/tmp/.X11-unix/X$d" ] || [ -e "/tmp/.X$d-lock" ]; do d=$((d + 1)); done
Xvfb ":$d" -screen 0 1024x600x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=":$d"
for _ in $(seq 50); do xwininfo -root >/dev/null 2>&1 && break; sleep 0.1; done

# No session bus: the kiosk case, where there is no tray (test/ui/traytest
# covers a desktop with one).
mkdir -p "$work/run"
env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$work/run" "$@" >"$work/app.log" 2>&1 &
app=$!
pids=("$app" "${pids[@]}")

found=
for _ in $(seq 100); do
	if xwininfo -root -tree 2>/dev/null | grep -q '"posagent"'; then found=1; break; fi
	kill -0 "$app" 2>/dev/null || break
	sleep 0.2
done
if [ -z "$found" ]; then
	echo "smoke: no posagent window appeared"; cat "$work/app.log"; exit 1
fi
# SMOKE_CLICKS="x,y x,y …" clicks through the real UI (xdotool), e.g. a
# sale on the demo: keypad, Sale, a simulated card.
if [ -n "${SMOKE_CLICKS:-}" ]; then
	command -v xdotool >/dev/null || { echo "smoke: xdotool missing (apt-get install xdotool)"; exit 1; }
	sleep 2
	for xy in $SMOKE_CLICKS; do
		xdotool mousemove "${xy%,*}" "${xy#*,}" click 1
		sleep 0.5
	done
fi
sleep "${SMOKE_SETTLE:-5}" # let the sale play and the GL frame render
import -window root "$out/smoke.png"
mean=$(identify -format '%[fx:mean]' "$out/smoke.png")
echo "smoke: window up on $DISPLAY, screenshot $out/smoke.png (mean brightness $mean)"
# A black or single-colour frame means nothing was painted.
awk -v m="$mean" 'BEGIN { exit !(m > 0.02) }' || { echo "smoke: screenshot is blank"; exit 1; }
kill -0 "$app" 2>/dev/null || { echo "smoke: the window quit early"; cat "$work/app.log"; exit 1; }
# SMOKE_EXPECT: a pattern the command's output must contain (e.g. the
# agent's log line of an approved sale).
if [ -n "${SMOKE_EXPECT:-}" ] && ! grep -q "$SMOKE_EXPECT" "$work/app.log"; then
	echo "smoke: the output lacks $SMOKE_EXPECT"; tail -20 "$work/app.log"; exit 1
fi
# Stopping it (as systemd or Ctrl-C does) must be clean: exit status 0.
kill -TERM "$app"
status=0
wait "$app" || status=$?
pids=("${pids[@]:1}")
if [ "$status" != 0 ] || grep -q '^panic:' "$work/app.log"; then
	echo "smoke: SIGTERM ended the window with status $status"; tail -30 "$work/app.log"; exit 1
fi
echo "smoke: ok"
