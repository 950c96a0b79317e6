package secret

import "testing"

// TestDummyValue: stand-ins typed by hand are not secrets; random values
// of the same shape are. The values are made up here.
func TestDummyValue(t *testing.T) {
	for v, want := range map[string]bool{
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8": true,  // v1: time and MAC
		"886313e1-3b8a-5372-9b90-0c9aee199e5d": true,  // v5: hash of a name
		"f47ac10b-58cc-4372-a567-0e02b2c3d479": false, // v4: random
		"12345678-ABCD-ABCD-ABCD-1234567890AB": false, // not a valid variant; left to the other checks
		"xoxb-5555-5555-5555-9f8e7d6c5b4a":     true,
		"xoxb-48213-90321-77412-9f8e7d6c5b4a":  false,
		"ab12-ab12-ab12-Zq9":                   false, // only digit groups count
	} {
		if got := dummyValue(v); got != want {
			t.Errorf("dummyValue(%q) = %v, want %v", v, got, want)
		}
	}
}
