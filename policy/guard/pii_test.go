package guard

import "testing"

// TestPhoneContextAndStandIns: a phone word counts as a word of its own,
// not inside an identifier; keyboard runs and year ranges are no phone
// numbers. The numbers are made up for this test.
func TestPhoneContextAndStandIns(t *testing.T) {
	phones := func(s string) int {
		n := 0
		for _, f := range CheckPII(s, map[string]bool{PIIPhone: true}) {
			if f.Category == PIIPhone {
				n++
			}
		}
		return n
	}
	for s, want := range map[string]int{
		"Phone: 0151 2345 6789":                                    1,
		"Tel. 030 90182736 (office)":                               1,
		"call me on 07700 900461 after six":                        1,
		"+44 20 7946 0958":                                         1,
		`"$numberLong": "1552949630483"`:                           0,
		"NumSyscall:   1208203,":                                   0,
		"const numbers = \"0123456789\"":                           0,
		"Copyright (C) 1991-2020 Free Software Foundation":         0,
		"# v1.30.5 (2025-11-25)":                                   0,
		"sends a Modern (2026-07-28) tools/call for the echo tool": 0,
	} {
		if got := phones(s); got != want {
			t.Errorf("%q: %d phones, want %d", s, got, want)
		}
	}
}
