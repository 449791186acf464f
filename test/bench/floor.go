package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/posagent/posagent/internal/reader/serial/serialtest"
)

// The floor (issue 17): the agent-added latency is reported as a ratio to
// what a program that does nothing else costs on the same path, measured
// in the same run: test/bench/floor reads the same kind of pty with the
// agent's serial library and sends the agent's own last sale request to the
// same gateway. Goal: the agent's p50 and p99 each at most goalFloorRatio
// times the floor's.
const (
	goalFloorRatio = 2.0
	floorPackage   = "github.com/posagent/posagent/test/bench/floor"
	floorPrefix    = "floor-"
	floorHolder    = "\x00FLOOR-ID\x00"
)

// buildFloor builds the floor program into dir.
func buildFloor(dir string) (string, error) {
	bin := filepath.Join(dir, "floor")
	cmd := exec.Command("go", "build", "-o", bin, floorPackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the floor program: %w: %s", err, out)
	}
	return bin, nil
}

// measureFloor runs the floor program on a new pty at link against gw,
// with the agent's last sale request, -latency samples plus one untimed
// (the first request opens the connection, as the agent's did).
func measureFloor(o opts, dir, link string, gw *gateway, cards *serialtest.IDTechCard, r *repetition) error {
	sale := gw.lastSale()
	if sale.apiID == "" {
		return fmt.Errorf("no sale request of the agent to send again")
	}
	bin, err := buildFloor(dir)
	if err != nil {
		return err
	}
	port, err := serialtest.Plug(link)
	if err != nil {
		return err
	}
	defer port.Close()
	hdr := sale.header.Clone()
	hdr.Del("Content-Length")
	hdr.Del("Host")
	in, err := json.Marshal(map[string]any{
		"tty": link, "method": sale.method, "url": gw.url() + sale.path, "header": hdr,
		"body":        strings.Replace(string(sale.body), sale.apiID, floorHolder, 1),
		"placeholder": floorHolder, "id_prefix": floorPrefix,
	})
	if err != nil {
		return err
	}
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the floor program: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(want string) error {
		select {
		case l, ok := <-lines:
			if !ok || l != want {
				return fmt.Errorf("floor program said %q, want %q: %s", l, want, stderr.String())
			}
			return nil
		case <-time.After(resultTimeout):
			return fmt.Errorf("floor program: no %q within %v", want, resultTimeout)
		}
	}
	if err := next("ready"); err != nil {
		return err
	}
	for i := -1; i < o.latency; i++ {
		frame, err := cards.Next()
		if err != nil {
			return err
		}
		wrote, err := port.Write(frame)
		clear(frame)
		if err != nil {
			return err
		}
		n := i + 1
		if err := next(fmt.Sprintf("sent %d", n)); err != nil {
			return err
		}
		arr := gw.arrivals(fmt.Sprintf("%s%d", floorPrefix, n))
		if len(arr) != 1 || arr[0].IsZero() {
			return fmt.Errorf("floor sample %d: %d requests reached the gateway, want 1", n, len(arr))
		}
		if i >= 0 {
			r.floor = append(r.floor, arr[0].Sub(wrote))
		}
	}
	return nil
}
