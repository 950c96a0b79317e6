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

// TestPIIHandTypedStandIns: numbers a person typed in documentation,
// configuration and test data, told by how they are made, are not
// personal data; a number of the same kind that a network, a carrier or
// a bank gave out stays a finding. The numbers are made up for this test.
func TestPIIHandTypedStandIns(t *testing.T) {
	count := func(s, category string) int {
		n := 0
		for _, f := range CheckPII(s, nil) {
			if f.Category == category {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		text, category string
		want           int
	}{
		// IPv4: a network's own address, one number four times, a count.
		{"route 10.0.0.0/8 via the VPN", PIIIP, 0},
		{"subnet 192.168.1.0/24", PIIIP, 0},
		{"dns 1.1.1.1", PIIIP, 0},
		{"host 10.10.10.10", PIIIP, 0},
		{"dial 1.2.3.4", PIIIP, 0},
		{"dial 4.3.2.1", PIIIP, 0},
		{"login from 86.121.97.248", PIIIP, 1},
		{"from 192.168.10.24", PIIIP, 1},
		{"dial 1.2.3.5", PIIIP, 1},
		// Link-local, as for IPv6.
		{"metadata at 169.254.169.254", PIIIP, 0},
		{"metadata at 169.255.169.254", PIIIP, 1},
		// A version word of its own; "server" is none.
		{"ver. 10.4.17.3", PIIIP, 0},
		{"build 10.4.17.3", PIIIP, 0},
		{"server 86.121.97.248", PIIIP, 1},
		{"resolver 86.121.97.248", PIIIP, 1},
		// IPv6: a prefix is a network.
		{"NAT64 prefix 64:ff9b:: and Teredo 2001::", PIIIP, 0},
		{"my ip is 2400:c401::5054:ff:fe1b:b031", PIIIP, 1},
		// Phones: the keyboard's number row, one key, after a country code.
		{"e164: +1234567890", PIIPhone, 0},
		{"e164: +19876543210", PIIPhone, 0},
		{`"Joe": "222-222-2222"`, PIIPhone, 0},
		{"e164: +14155238876", PIIPhone, 1},
		{`"Mary": "415-523-8876"`, PIIPhone, 1},
		// '#': an issue number, a URL's fragment.
		{"fixed in #07700900461", PIIPhone, 0},
		// A phone word as a member name is no context.
		{`json.Number("4155238876")`, PIIPhone, 0},
		{`Number: 4155238876`, PIIPhone, 1},
		// Without a phone word: a row of counts from a lone 0, ZIP+4, hex
		// dump bytes, a number without separators.
		{"rc 0 6 18622\nfh 0 0 0", PIIPhone, 0},
		{"< 01 0 0 0 01 0 111 # bits", PIIPhone, 0},
		{"H32:01007588 0 H24", PIIPhone, 0},
		{"Sat Jan 01 2000 00:00:00 GMT", PIIPhone, 0},
		{"Sat Dec 03 00:10:53 +0530 2022", PIIPhone, 0},
		{"numbers.range(49649733057, 49649733060)", PIIPhone, 0},
		{"numbers: 0151 2345 6789", PIIPhone, 1},
		{"Boston, MA 02110-1301 USA", PIIPhone, 0},
		{"phone: 02110-1301", PIIPhone, 1},
		{"0000020 50 4b 03 04 14 00\n", PIIPhone, 0},
		{"bureau 01 42 68 53 00", PIIPhone, 1},
		{"isbn 0321751043", PIIPhone, 0},
		{"mobile 07700900461", PIIPhone, 1},
		{"ring 07700 900461", PIIPhone, 1},
		// The rest of IBAN groups whose checksum fails is no phone.
		{"IBAN NL91 1BNA 0417 1643 00", PIIPhone, 0},
		{"IBAN NL91 1BNA 0417 1643 00", PIIIBAN, 0},
		{"ref 1BNA 0417 1643 00", PIIPhone, 1},
		// Cards: grouped as the networks print them.
		{"stats 40 12 88 88 88 88 18 81", PIICard, 0},
		{"4012 8888 8888 1881", PIICard, 1},
		{"4012-8888-8888-1881", PIICard, 1},
		{"3714 496353 98431", PIICard, 1},
		{"4012888888881881", PIICard, 1},
	} {
		if got := count(c.text, c.category); got != c.want {
			t.Errorf("%q: %d %s findings, want %d", c.text, got, c.category, c.want)
		}
	}
}
