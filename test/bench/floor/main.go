// Command floor is the least a program can do on the agent-added latency
// path of test/bench, measured in the same run as the agent so that the
// agent's latency is reported as a ratio to it (issue 17): it opens the
// reader's pseudo-terminal as the agent's serial driver does (go.bug.st/serial,
// 9600 8N1), reads one ID TECH enhanced frame (STX, 2-byte little-endian
// length, data, LRC, checksum, ETX: length + 6 bytes) and sends the same
// HTTP request the agent sent for its last sale — method, path, headers,
// body, with a fresh transaction_api_id — over one kept-alive connection.
// Nothing else: no parsing, no guards, no journal, no websocket.
//
// The harness writes the request on stdin as one JSON object and then
// writes frames to the pty; floor answers "ready" once the port is open and
// "sent N" after each response, so the harness paces the frames as it
// paces the agent's sales. The request holds ciphertext of a made-up test
// card: it stays in memory and on the pipe, never in a file or log.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	bugst "go.bug.st/serial"
)

// request is what the harness sends: the agent's captured sale request.
type request struct {
	TTY         string              `json:"tty"`
	Method      string              `json:"method"`
	URL         string              `json:"url"`
	Header      map[string][]string `json:"header"`
	Body        string              `json:"body"`
	Placeholder string              `json:"placeholder"` // in Body, replaced by IDPrefix + N
	IDPrefix    string              `json:"id_prefix"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	var req request
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		return fmt.Errorf("request on stdin: %w", err)
	}
	port, err := bugst.Open(req.TTY, &bugst.Mode{BaudRate: 9600, DataBits: 8, Parity: bugst.NoParity, StopBits: bugst.OneStopBit})
	if err != nil {
		return fmt.Errorf("open %s: %w", req.TTY, err)
	}
	defer port.Close()
	fmt.Fprintln(out, "ready")
	client := &http.Client{}
	rd := bufio.NewReaderSize(port, 4096)
	head := make([]byte, 3)
	for n := 0; ; n++ {
		if _, err := io.ReadFull(rd, head); err != nil {
			return fmt.Errorf("read frame: %w", err)
		}
		if head[0] != 0x02 {
			return fmt.Errorf("frame starts with %#x, want STX", head[0])
		}
		if _, err := rd.Discard(int(head[1]) | int(head[2])<<8 + 3); err != nil {
			return fmt.Errorf("read frame: %w", err)
		}
		body := strings.Replace(req.Body, req.Placeholder, fmt.Sprintf("%s%d", req.IDPrefix, n), 1)
		hr, err := http.NewRequest(req.Method, req.URL, bytes.NewReader([]byte(body)))
		if err != nil {
			return err
		}
		for k, v := range req.Header {
			hr.Header[k] = v
		}
		resp, err := client.Do(hr)
		if err != nil {
			return fmt.Errorf("request %d: %w", n, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Fprintf(out, "sent %d\n", n)
	}
}
