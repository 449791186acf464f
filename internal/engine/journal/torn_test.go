package journal

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/sale"
)

const tornChildEnv = "POSAGENT_TORN_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(tornChildEnv); path != "" {
		os.Exit(tornChild(path))
	}
	code := m.Run()
	closeBenchJournal()
	os.Exit(code)
}

// tornChild writes records as fast as it can, printing each id once Put
// has returned (durable), until it is killed.
func tornChild(path string) int {
	j, err := Open(path, nil)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		id := fmt.Sprintf("tx-%06d", i)
		r := Record{TransactionAPIID: id, Action: "sale", Amount: "1.00", State: sale.StateSending,
			Description: strings.Repeat("x", i%60)}
		if err := j.Put(r); err != nil {
			fmt.Fprintln(out, "ERR", err)
			out.Flush()
			return 1
		}
		fmt.Fprintln(out, "OK", id)
		out.Flush()
	}
}

// A process killed with SIGKILL in the middle of writing leaves a journal
// that opens cleanly and holds every record whose Put had returned.
func TestTornWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	for round := 0; round < 3; round++ {
		path := filepath.Join(t.TempDir(), "journal.db")
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), tornChildEnv+"="+path)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		var done []string
		deadline := time.Now().Add(time.Duration(100+round*150) * time.Millisecond)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if f[0] == "ERR" {
				t.Fatalf("child: %s", sc.Text())
			}
			done = append(done, f[1])
			if time.Now().After(deadline) && len(done) > 20 {
				break
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		j, err := Open(path, nil)
		if err != nil {
			t.Fatalf("round %d: journal does not open after SIGKILL: %v", round, err)
		}
		if rep := j.Report(); rep.MovedAside != "" {
			t.Fatalf("round %d: journal was taken for damaged: %s", round, rep.Damage)
		}
		for _, id := range done {
			if _, ok, err := j.Get(id); err != nil || !ok {
				t.Fatalf("round %d: record %s acknowledged by Put is missing (%v)", round, id, err)
			}
		}
		all, err := everyRecord(j)
		if err != nil {
			t.Fatalf("round %d: a record does not decode: %v", round, err)
		}
		if len(all) < len(done) {
			t.Fatalf("round %d: %d records, %d acknowledged", round, len(all), len(done))
		}
		t.Logf("round %d: %d acknowledged writes, %d records after SIGKILL", round, len(done), len(all))
		j.Close()
	}
}
