package bridge

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMetrics(t *testing.T) {
	h := start(t)
	h.b.ObserveGatewayLatency(300 * time.Millisecond)
	c := h.open()
	c.sale("s1", "1.00")
	c.card(visa, "S")
	c.sale("s2", "6.16")
	c.card(visa, "S")
	c.send(`garbage`)
	c.expectError(CodeBadJSON)
	h.get("/", "evil.example:1").Body.Close()
	res := h.get("/metrics", h.host())
	b := body(t, res)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{
		`posagent_transactions_total{action="sale",outcome="approved"} 1`,
		`posagent_transactions_total{action="sale",outcome="declined"} 1`,
		`posagent_card_to_result_seconds_count 2`,
		`posagent_card_to_result_seconds_bucket{le="+Inf"} 2`,
		`posagent_gateway_request_seconds_bucket{le="0.25"} 0`,
		`posagent_gateway_request_seconds_bucket{le="0.5"} 1`,
		`posagent_gateway_request_seconds_sum 0.3`,
		`posagent_websocket_clients 1`,
		`posagent_websocket_connections_total 1`,
		`posagent_websocket_errors_total{code="bad_json"} 1`,
		`posagent_http_rejected_total{reason="bad_host"} 1`,
		`posagent_readers{status="ok"} 1`,
		`posagent_readers{status="broken"} 0`,
	} {
		if !strings.Contains(b, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Every sample line is name{labels} value; every family has HELP and TYPE.
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$`)
	types := 0
	for _, line := range strings.Split(strings.TrimSpace(b), "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			types++
			continue
		}
		if !strings.HasPrefix(line, "# HELP ") && !sample.MatchString(line) {
			t.Errorf("bad sample line %q", line)
		}
	}
	if types != 10 {
		t.Errorf("%d metric families, want 10", types)
	}
}

func TestHistogramBuckets(t *testing.T) {
	h := newHistogram()
	for _, v := range []float64{0.05, 0.051, 60, 61} {
		h.observe(v)
	}
	if h.counts[0] != 1 || h.counts[1] != 1 || h.counts[len(latencyBuckets)-1] != 1 || h.counts[len(latencyBuckets)] != 1 {
		t.Fatalf("buckets %v", h.counts)
	}
}

func TestQuote(t *testing.T) {
	if got := quote("a\"b\\c\nd"); got != `"a\"b\\c\nd"` {
		t.Fatal(got)
	}
}
