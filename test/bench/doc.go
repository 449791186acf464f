// Command bench measures the real posagent binary as a whole process, the
// numbers the in-process Go benchmarks cannot give: how long the agent takes
// to start listening, what it costs while idle, and what a POS page and a
// card reader see through the real websocket, serial port and HTTP stack.
//
//   - start to listening: `posagent demo --headless` is started -starts
//     times; the time from exec to the banner on stdout and to the first
//     200 from /healthz (asked as soon as the banner appears).
//   - idle: after one warm-up sale and a settle time, VmRSS (RssAnon,
//     RssFile) from /proc/PID/status and the CPU time (utime+stime of
//     /proc/PID/stat) used over an idle window, as % of one core.
//   - sale round trip: -sales sales over the websocket against the demo
//     (simulated VP3300, embedded sandbox, journal fsync on): from just
//     before the sale request is written to the moment its result is read,
//     the `prompt` → `simulate` exchange included.
//   - agent-added latency: `posagent run` with a serial ID TECH reader on a
//     pseudo-terminal the harness holds, and the gateway (the sandbox
//     handler) served by the harness. The harness writes a fresh encrypted
//     enhanced frame (test BDK, new KSN each time) to the pty master and
//     takes the time just before the write; the gateway's connection
//     wrapper takes the time its first read of the sale request returns.
//     Both clocks are the harness's. -latency samples.
//   - disk: a 4 KiB write plus fdatasync in the state dirs' filesystem,
//     for context: the journal's commits ride on it, one of them inside the
//     agent-added latency.
//   - hot-plug: the reader's configured path (a symlink) is removed and the
//     pty closed, then a new pty is linked in its place; the time from the
//     new link to the websocket `reader` "attached" event. -hotplugs times.
//   - cashier window: `posagent demo` with its window, on -display or a
//     private Xvfb (1024x600) and with no D-Bus session bus, so no tray (a
//     kiosk's X session); after -window-settle, VmRSS (RssAnon, RssFile)
//     and CPU over the idle window, and the GL driver the process loaded
//     (glxinfo's renderer string where mesa-utils is installed). Under
//     Mesa's software renderer (swrast_dri.so: llvmpipe) most of that
//     memory is the renderer's; on a desktop with a hardware GL driver,
//     -display :0 measures the window as a counter PC runs it. Skipped,
//     with the reason in the summary, for a headless build or with no X
//     server.
//
// It prints a summary with PASS/MISS against the goals of
// docs/performance.md and writes Go benchmark-format lines (-o) that
// benchstat summarises and compares. A miss is reported, not fatal, unless
// -strict. Card data is never printed: frames are built in memory from a
// made-up number on a test BIN and cleared after use.
//
//	go run ./test/bench -bin bin/posagent -o artifacts/bench/process.txt
package main
