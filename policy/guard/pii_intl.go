package guard

import (
	"net/netip"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ibanLengths is the IBAN registry (SWIFT, release 2024) plus the
// countries that issue IBANs outside it (partial members and Nordea's
// list): country code → length.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29,
	"PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24,
	"SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
	"YE": 30,
	// Outside the registry, issued all the same.
	"AO": 25, "BF": 28, "BJ": 28, "CF": 27, "CG": 27, "CI": 28, "CM": 27, "CV": 25, "DZ": 26, "GA": 27, "GQ": 27,
	"GW": 25, "IR": 26, "KM": 27, "MA": 28, "MG": 27, "ML": 28, "MZ": 25, "NE": 28, "SN": 28, "TD": 27, "TG": 28,
	"HT": 28,
}

// phoneContext are words that say the number after them is a phone.
var phoneContext = []string{"phone", "tel", "mobile", "cell", "fax", "call", "desk", "office", "whatsapp", "sms",
	"number", "messages to", "reach me", "contact", "answering at", "registered", "landline", "hotline", "téléphone",
	"telefon", "teléfono", "telefono"}

// phoneRegions are tried, in order, for a national number (no +CC) that
// is not North American: the regions with the most speakers of the
// languages mcpgov's users write in, as presidio's recognizer does.
var phoneRegions = []string{"GB", "DE", "FR", "IL", "IN", "AU", "NL", "BE", "IT", "ES", "BR", "CN", "JP", "CH", "AT", "SE", "PL"}

// maxPhoneParses bounds the libphonenumber calls per text: each costs
// tens of microseconds.
const maxPhoneParses = 24

// intlPhone validates a digit run that is not a North American number
// with libphonenumber: +CC numbers in their region, national numbers
// (a leading 0, or after a phone word) in the common regions.
func intlPhone(s string, i int, run, d string, budget *int) bool {
	if len(d) < 7 || len(d) > 15 {
		return false
	}
	ctx := phoneWordBefore(s, i)
	if strings.HasPrefix(run, "+") {
		return parseValid(run, "ZZ", budget)
	}
	seps := strings.Count(run, " ") + strings.Count(run, "-") + strings.Count(run, ".") + strings.Count(run, "(")
	if !ctx && (d[0] != '0' || seps == 0 || notPhoneShape(s, i, run)) {
		return false
	}
	if ctx && len(d) >= 7 {
		return true // a phone word and a number of phone length
	}
	for _, r := range phoneRegions {
		if parseValid(run, r, budget) {
			return true
		}
	}
	return false
}

// notPhoneShape: without a phone word, what a national number's digits
// are more often: a row of counts or bits with a group of one digit
// ("0 6 18622", "01 0 0 0 01 0 111"; a national number's trunk prefix
// is written joined to the area code, its groups have two digits or
// more), a US
// ZIP+4 code ("02110-1301", in every GPL notice), or bytes of a hex dump
// (a neighbouring group of two holds a hex letter: "50 4b 03 04 14 00").
// A number written without separators and no phone word near it (an
// ISBN, an id, a count) was already set aside.
func notPhoneShape(s string, i int, run string) bool {
	for _, g := range strings.FieldsFunc(run, func(r rune) bool { return r == ' ' || r == '-' || r == '.' }) {
		if len(g) == 1 {
			return true
		}
	}
	if len(run) == 10 && run[5] == '-' && strings.Count(run, "-") == 1 {
		return true
	}
	return hexDumpBytes(s, i, i+len(run))
}

// inIBANGroups: the run [i, …) follows groups of four letters and digits
// back to a country code and check digits ("NL91 1BNA 0417 1643 00"):
// the rest of an account number written in groups, whose checksum (a
// typo, a made-up number) did not hold, not a phone number.
func inIBANGroups(s string, i int) bool {
	k := i
	for groups := 0; groups < 8; groups++ {
		if k < 5 || s[k-1] != ' ' {
			return false
		}
		g := s[k-5 : k-1]
		for n := 0; n < 4; n++ {
			if !isDigit(g[n]) && (g[n] < 'A' || g[n] > 'Z') {
				return false
			}
		}
		if _, known := ibanLengths[g[:2]]; known && isDigit(g[2]) && isDigit(g[3]) && (k == 5 || !isWordChar(s[k-6])) {
			return true
		}
		k -= 5
	}
	return false
}

// nextToClock: the run [i, j) runs into a time of day ("Jan 01 2000
// 00:00:00") or follows one ("00:10:53 +0530 2022"): it is part of a
// timestamp (unless a phone word comes before it).
func nextToClock(s string, i, j int) bool {
	if j+1 < len(s) && s[j] == ':' && isDigit(s[j+1]) {
		return true
	}
	k := i
	if k > 0 && s[k-1] == ' ' {
		k--
	}
	return k >= 3 && isDigit(s[k-1]) && isDigit(s[k-2]) && s[k-3] == ':'
}

// hexDumpBytes: the run [i, j) is groups of two digits, and the group
// of two just before or after it, on its line, holds a hex letter.
func hexDumpBytes(s string, i, j int) bool {
	for k := i; k < j; k += 3 {
		if k+2 > j || !isDigit(s[k]) || !isDigit(s[k+1]) || k+2 < j && s[k+2] != ' ' {
			return false
		}
	}
	hexPair := func(a int) bool {
		if a < 0 || a+2 > len(s) || !isHex(s[a]) || !isHex(s[a+1]) {
			return false
		}
		return !isDigit(s[a]) || !isDigit(s[a+1])
	}
	before := i >= 3 && s[i-1] == ' ' && hexPair(i-3) && (i == 3 || !isWordChar(s[i-4]))
	after := j+3 <= len(s) && s[j] == ' ' && hexPair(j+1) && (j+3 == len(s) || !isWordChar(s[j+3]))
	return before || after
}

func parseValid(run, region string, budget *int) bool {
	if *budget <= 0 {
		return false
	}
	*budget--
	n, err := phonenumbers.Parse(run, region)
	return err == nil && phonenumbers.IsValidNumber(n)
}

// phoneWordBefore: a phone word in the 40 bytes before i, as a word of
// its own ("numbers" and "Tel." count; "$numberLong", "NumSyscall",
// "tools/call", "json.Number", "numbers.range(" do not: an identifier is
// no context).
func phoneWordBefore(s string, i int) bool {
	w := strings.ToLower(s[max(0, i-40):i])
	for _, p := range phoneContext {
		for off := 0; ; {
			k := strings.Index(w[off:], p)
			if k < 0 {
				break
			}
			at := off + k
			off = at + 1
			end := at + len(p)
			if end < len(w) && w[end] == 's' {
				end++
			}
			member := end+1 < len(w) && w[end] == '.' && w[end+1] >= 'a' && w[end+1] <= 'z'
			if (at == 0 || !isWordChar(w[at-1]) && w[at-1] != '$' && w[at-1] != '/' && w[at-1] != '.') && (end == len(w) || !isWordChar(w[end]) && !member) {
				return true
			}
		}
	}
	return false
}

// cardWordBefore: "card" in the 48 bytes before i.
func cardWordBefore(s string, i int) bool {
	return strings.Contains(strings.ToLower(s[max(0, i-48):i]), "card")
}

// ipv6s finds IPv6 addresses that can name a person's device: global
// unicast (and multicast); not loopback, unspecified, link-local,
// unique-local or documentation addresses (mcpgov's convention).
func ipv6s(s string) []PIIFinding {
	var out []PIIFinding
	for off := 0; off < len(s); {
		j := strings.IndexByte(s[off:], ':')
		if j < 0 {
			break
		}
		c := off + j
		a := c
		for a > 0 && (isHex(s[a-1]) || s[a-1] == ':') && c-a < 40 {
			a--
		}
		e := c
		for e < len(s) && (isHex(s[e]) || s[e] == ':' || s[e] == '.') && e-a < 46 {
			e++
		}
		off = e + 1
		cand := strings.TrimRight(s[a:e], ".")
		if strings.Count(cand, ":") < 2 || a > 0 && isWordChar(s[a-1]) || e < len(s) && isWordChar(s[e]) {
			continue
		}
		ip, err := netip.ParseAddr(cand)
		if err != nil || !ip.Is6() || ip.Is4In6() {
			continue
		}
		// An address ending in "::" is a prefix (2001::, 64:ff9b::), its
		// host part zero: a network, not a device.
		if ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsPrivate() || documentation6.Contains(ip) || strings.HasSuffix(cand, "::") {
			continue
		}
		out = append(out, PIIFinding{PIIIP, a, a + len(cand)})
	}
	return out
}

var documentation6 = netip.MustParsePrefix("2001:db8::/32")
