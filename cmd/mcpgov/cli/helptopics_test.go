package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/policy/govern"
)

// Every key of config.toml is documented in `mcpgov help config`, in the
// table it belongs to.
func TestHelpConfigDocumentsEveryKey(t *testing.T) {
	// The text up to each heading is the section before it.
	var sections []string
	rest := configTopic
	for _, heading := range []string{"[profiles.NAME]", "[audit]", "[gateway]", "[[gateway.issuers]]", "Example"} {
		i := strings.Index(rest, "\n"+heading)
		if i < 0 {
			t.Fatalf("help config has no %s section", heading)
		}
		sections = append(sections, rest[:i])
		rest = rest[i:]
	}
	for typ, section := range map[reflect.Type]string{
		reflect.TypeFor[Config]():                   sections[0],
		reflect.TypeFor[LoginProfile]():             sections[1],
		reflect.TypeFor[AuditConfig]():              sections[2],
		reflect.TypeFor[GatewayConfig]():            sections[3],
		reflect.TypeFor[govern.GatewayAuthConfig](): sections[3],
		reflect.TypeFor[govern.IssuerConfig]():      sections[4],
	} {
		for i := range typ.NumField() {
			fld := typ.Field(i)
			tag := fld.Tag.Get("toml")
			if tag == "" || fld.Type.Kind() == reflect.Map || fld.Type.Kind() == reflect.Struct ||
				fld.Type.Kind() == reflect.Slice && fld.Type.Elem().Kind() == reflect.Struct {
				continue
			}
			if !strings.Contains(section, "\n  "+tag+" = ") {
				t.Errorf("help config does not document %s key %q where it belongs", typ.Name(), tag)
			}
		}
	}
}
