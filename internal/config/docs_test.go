package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// keys lists the TOML keys of a struct type as docs/config.md writes
// them: "gateway.url", "readers[].kind".
func keys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}):
			out = append(out, keys(ft, prefix+name+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, keys(ft.Elem(), prefix+name+"[].")...)
		default:
			out = append(out, prefix+name)
		}
	}
	return out
}

// TestDocsListEveryKey: docs/config.md, the reference every config error
// points to, has a row for every key of Config and every POSAGENT_*
// variable with the key it sets. A key added without its documentation
// fails here.
func TestDocsListEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../" + DocsRef)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	ks := keys(reflect.TypeOf(Config{}), "")
	if len(ks) < 20 {
		t.Fatalf("only %d keys found: %v", len(ks), ks)
	}
	for _, k := range ks {
		if !strings.Contains(doc, "| `"+k+"` |") {
			t.Errorf("%s has no row for `%s`", DocsRef, k)
		}
	}
	for _, e := range envVars {
		if !strings.Contains(doc, "| `"+e.name+"` | `"+e.field+"`") {
			t.Errorf("%s has no row for %s (%s)", DocsRef, e.name, e.field)
		}
	}
	// The defaults the reference states are the code's.
	for _, want := range []string{"| `listen` | `\"" + DefaultListen + "\"` |", "| `gateway.timeout` | `\"" + DefaultTimeout.String() + "\"` |"} {
		if !strings.Contains(doc, want) {
			t.Errorf("%s does not state the default %s", DocsRef, want)
		}
	}
}
