package packagetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/config"
	"github.com/posagent/posagent/packaging"
)

// TestConfigTemplate loads the conffile with the agent's own parser: it must
// parse (Load rejects unknown keys), and Validate must find nothing wrong
// but the empty gateway credentials a person fills in after installing.
func TestConfigTemplate(t *testing.T) {
	if got := read(t, "packaging/linux/posagent.toml"); got != packaging.ConfigTemplate {
		t.Fatal("packaging.ConfigTemplate differs from packaging/linux/posagent.toml")
	}
	c, err := config.Load(strings.NewReader(packaging.ConfigTemplate))
	if err != nil {
		t.Fatalf("the template does not load: %v", err)
	}
	if c.Gateway.Kind != config.GatewayPaya {
		t.Errorf("gateway.kind = %q, want paya", c.Gateway.Kind)
	}
	if len(c.Readers) != 1 || c.Readers[0].Kind != config.ReaderAuto {
		t.Errorf("readers = %+v, want one auto reader", c.Readers)
	}
	if c.Listen != config.DefaultListen {
		t.Errorf("listen = %q, want %q", c.Listen, config.DefaultListen)
	}
	var ve *config.ValidationError
	if err := c.Validate(); !errors.As(err, &ve) {
		t.Fatalf("Validate = %v, want the missing credentials", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
		if !strings.HasPrefix(p.Message, "missing:") {
			t.Errorf("%s: %s (only missing credentials are expected)", p.Field, p.Message)
		}
	}
	want := []string{"gateway.developer_id", "gateway.user_id", "gateway.user_api_key", "gateway.location_id"}
	if !slices.Equal(fields, want) {
		t.Errorf("problems in %q, want exactly %q", fields, want)
	}

	// Filled in, it is a valid configuration: nothing else is wrong.
	filled := packaging.ConfigTemplate
	for _, k := range []string{"developer_id", "user_id", "user_api_key", "location_id"} {
		if !strings.Contains(filled, "\n"+k+` = ""`) {
			t.Fatalf(`the template has no line %s = ""`, k)
		}
		filled = strings.Replace(filled, "\n"+k+` = ""`, "\n"+k+` = "x"`, 1)
	}
	c, err = config.Load(strings.NewReader(filled))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the filled-in template does not validate: %v", err)
	}
}
