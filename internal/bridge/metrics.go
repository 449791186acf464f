package bridge

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posagent/posagent/internal/sale"
)

// latencyBuckets are the histogram bounds in seconds: a card sale takes
// one to a few seconds; the gateway timeout is 30 s by default.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// histogram is a Prometheus histogram (cumulative buckets written at scrape).
type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func newHistogram() histogram { return histogram{counts: make([]uint64, len(latencyBuckets)+1)} }

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(latencyBuckets, v) // first bound >= v
	h.counts[i]++
	h.sum += v
	h.n++
}

// metrics are the bridge's counters. Prometheus' text format is simple
// enough to write by hand, and a client library would be the agent's
// largest dependency.
type metrics struct {
	mu           sync.Mutex
	results      map[[2]string]uint64 // action, outcome
	cardToResult histogram
	gateway      histogram
	errors       map[string]uint64 // protocol error replies by code
	rejected     map[string]uint64 // refused HTTP requests by reason
	connections  uint64
	slowClosed   uint64
	messagesIn   uint64
}

func newMetrics() *metrics {
	return &metrics{results: map[[2]string]uint64{}, errors: map[string]uint64{}, rejected: map[string]uint64{},
		cardToResult: newHistogram(), gateway: newHistogram()}
}

func (m *metrics) result(action, outcome string) {
	m.mu.Lock()
	m.results[[2]string{action, outcome}]++
	m.mu.Unlock()
}

func (m *metrics) observeCardToResult(d time.Duration) {
	m.mu.Lock()
	m.cardToResult.observe(d.Seconds())
	m.mu.Unlock()
}

func (m *metrics) observeGateway(d time.Duration) {
	m.mu.Lock()
	m.gateway.observe(d.Seconds())
	m.mu.Unlock()
}

func (m *metrics) errorReply(code string) {
	m.mu.Lock()
	m.errors[code]++
	m.mu.Unlock()
}

func (m *metrics) reject(reason string) {
	m.mu.Lock()
	m.rejected[reason]++
	m.mu.Unlock()
}

func (m *metrics) inc(p *uint64) {
	m.mu.Lock()
	*p++
	m.mu.Unlock()
}

// write renders every metric in the Prometheus text exposition format
// 0.0.4. readers and clients are sampled by the caller at scrape time.
func (m *metrics) write(w io.Writer, readers []sale.Reader, clients int) error {
	var b strings.Builder
	m.mu.Lock()
	header(&b, "posagent_transactions_total", "counter", "Finished transactions by action and outcome.")
	keys := make([][2]string, 0, len(m.results))
	for k := range m.results {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "posagent_transactions_total{action=%s,outcome=%s} %d\n", quote(k[0]), quote(k[1]), m.results[k])
	}
	header(&b, "posagent_card_to_result_seconds", "histogram", "Time from the card read to the transaction's result, as the bridge saw the updates.")
	writeHistogram(&b, "posagent_card_to_result_seconds", &m.cardToResult)
	header(&b, "posagent_gateway_request_seconds", "histogram", "Gateway request latency reported by the engine wiring (Bridge.ObserveGatewayLatency).")
	writeHistogram(&b, "posagent_gateway_request_seconds", &m.gateway)
	header(&b, "posagent_websocket_connections_total", "counter", "Websocket connections accepted.")
	fmt.Fprintf(&b, "posagent_websocket_connections_total %d\n", m.connections)
	header(&b, "posagent_websocket_slow_client_closes_total", "counter", "Connections closed because their send queue filled up.")
	fmt.Fprintf(&b, "posagent_websocket_slow_client_closes_total %d\n", m.slowClosed)
	header(&b, "posagent_websocket_messages_received_total", "counter", "Websocket messages received.")
	fmt.Fprintf(&b, "posagent_websocket_messages_received_total %d\n", m.messagesIn)
	header(&b, "posagent_websocket_errors_total", "counter", "Error messages sent to clients, by code.")
	writeByLabel(&b, "posagent_websocket_errors_total", "code", m.errors)
	header(&b, "posagent_http_rejected_total", "counter", "HTTP requests refused before reaching a handler, by reason.")
	writeByLabel(&b, "posagent_http_rejected_total", "reason", m.rejected)
	m.mu.Unlock()

	header(&b, "posagent_websocket_clients", "gauge", "Websocket connections open now.")
	fmt.Fprintf(&b, "posagent_websocket_clients %d\n", clients)
	header(&b, "posagent_readers", "gauge", "Card readers by status.")
	states := map[string]int{string(sale.ReaderOK): 0, string(sale.ReaderBroken): 0, string(sale.ReaderDetached): 0}
	for _, r := range readers {
		states[string(r.Status)]++
	}
	names := make([]string, 0, len(states))
	for s := range states {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		fmt.Fprintf(&b, "posagent_readers{status=%s} %d\n", quote(s), states[s])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func header(b *strings.Builder, name, typ, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func writeHistogram(b *strings.Builder, name string, h *histogram) {
	var cum uint64
	for i, le := range latencyBuckets {
		cum += h.counts[i]
		fmt.Fprintf(b, "%s_bucket{le=%q} %d\n", name, formatFloat(le), cum)
	}
	cum += h.counts[len(latencyBuckets)]
	fmt.Fprintf(b, "%s_bucket{le=\"+Inf\"} %d\n", name, cum)
	fmt.Fprintf(b, "%s_sum %s\n%s_count %d\n", name, formatFloat(h.sum), name, h.n)
}

func writeByLabel(b *strings.Builder, name, label string, m map[string]uint64) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "%s{%s=%s} %d\n", name, label, quote(k), m[k])
	}
}

func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// quote escapes a label value: backslash, double quote and newline.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
