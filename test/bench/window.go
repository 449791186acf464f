package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/posagent/posagent/test/internal/xvfb"
)

// goalWindowRSS is the cashier window's idle memory goal (issue 7,
// docs/performance.md): 120 MB, decimal.
const goalWindowRSS = 120_000_000

// setupWindow decides whether the window phase can run and gives it a
// display: o.display, or a private Xvfb. skip says why it cannot run; stop
// ends what was started.
func setupWindow(o opts, version string) (display, skip string, stop func()) {
	stop = func() {}
	switch {
	case !o.window:
		return "", "off (-window=false)", stop
	case strings.Contains(version, "headless"):
		return "", "the binary links no window (a headless build; make build links it)", stop
	case o.display != "":
		return o.display, "", stop
	case !xvfb.Available():
		return "", "no X server: apt-get install xvfb, or give -display", stop
	}
	display, stop, err := xvfb.Start()
	if err != nil {
		return "", err.Error(), func() {}
	}
	return display, "", stop
}

// measureWindow runs `posagent demo` with its window on o.display, the way
// a kiosk's X session has it: no D-Bus session bus, so no tray (a tray adds
// the hidden window fyne keeps for it). After o.windowSettle it checks that
// a GL driver is loaded (the window opened, rather than the agent falling
// back to headless), then measures CPU over o.idle and the memory.
func measureWindow(o opts, bin, dir string, r *repetition) error {
	env := []string{"DISPLAY=" + o.display, "XDG_RUNTIME_DIR=" + filepath.Join(dir, "xdg")}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "DISPLAY" && k != "WAYLAND_DISPLAY" && k != "XDG_RUNTIME_DIR" && k != "DBUS_SESSION_BUS_ADDRESS" {
			env = append(env, kv)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "xdg"), 0o700); err != nil {
		return err
	}
	logPath := filepath.Join(dir, "window.log")
	a, err := startOnFreePort(bin, func(port int) []string {
		return []string{"demo", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--state-dir", filepath.Join(dir, "window")}
	}, env, logPath)
	if err != nil {
		return err
	}
	defer a.kill()
	time.Sleep(o.windowSettle)
	libs, err := glLibraries(a.pid())
	if err != nil {
		return err
	}
	if len(libs) == 0 {
		return fmt.Errorf("no GL driver in the process %v after start: the window did not open on %s: see %s", o.windowSettle, o.display, logPath)
	}
	r.renderer = describeRenderer(o.display, libs)
	t0, err := readCPUTicks(a.pid())
	if err != nil {
		return err
	}
	w0 := time.Now()
	time.Sleep(o.idle)
	t1, err := readCPUTicks(a.pid())
	if err != nil {
		return err
	}
	window := time.Since(w0)
	mem, err := readMem(a.pid())
	if err != nil {
		return err
	}
	r.window = idleResult{mem: mem, window: window, ticks: t1 - t0,
		cpuPct: float64(t1-t0) / float64(clockTicks()) / window.Seconds() * 100}
	o.logf("cashier window idle: VmRSS %s, CPU %.2f %% over %s (%s)", fmtMB(mem.rss), r.window.cpuPct, window.Round(time.Millisecond), r.renderer)
	return a.stop()
}

// glLibraries lists the GL driver libraries mapped into the process, by
// file name: Mesa's DRI drivers (swrast_dri.so is its software renderer,
// llvmpipe or softpipe), its gallium core, LLVM (llvmpipe's compiler, and
// radeonsi's), NVIDIA's GL core.
func glLibraries(pid int) ([]string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, fmt.Errorf("mappings of pid %d: %w", pid, err)
	}
	defer f.Close()
	var libs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		name := filepath.Base(fields[len(fields)-1])
		if isGLLibrary(name) && !slices.Contains(libs, name) {
			libs = append(libs, name)
		}
	}
	slices.Sort(libs)
	return libs, sc.Err()
}

func isGLLibrary(name string) bool {
	return strings.Contains(name, "_dri.so") || strings.HasPrefix(name, "libgallium") ||
		strings.HasPrefix(name, "libLLVM") || strings.HasPrefix(name, "libnvidia-glcore")
}

// describeRenderer names the renderer: glxinfo's renderer string where
// mesa-utils is installed, and the libraries the window loaded.
func describeRenderer(display string, libs []string) string {
	d := strings.Join(libs, " ")
	if out, err := exec.Command("glxinfo", "-B", "-display", display).Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if _, r, ok := strings.Cut(l, "OpenGL renderer string:"); ok {
				d = strings.TrimSpace(r) + "; " + d
			}
		}
	}
	if softwareGL(d) {
		d += "; software GL"
	}
	return d
}

// softwareGL: Mesa's software rasterisers. Their memory (LLVM's code and
// compiled shaders, the framebuffers in the process's heap) is the
// renderer's, not the window's: docs/performance.md.
func softwareGL(renderer string) bool {
	r := strings.ToLower(renderer)
	return strings.Contains(r, "swrast") || strings.Contains(r, "llvmpipe") || strings.Contains(r, "softpipe")
}
