package guard

import (
	"math/big"
	"strings"
)

// PII categories (rule ids are "pii." + category).
const (
	PIIEmail = "email"
	PIICard  = "card"
	PIISSN   = "ssn"
	PIIIBAN  = "iban"
	PIIPhone = "phone"
	PIIIP    = "ip"
)

// PIIFinding is one personal identifier in a text.
type PIIFinding struct {
	Category   string
	Start, End int
}

// CheckPII finds emails, payment cards (Luhn + issuer prefix), US SSNs,
// IBANs (mod-97), phone numbers and IPv4 addresses in s in one pass per
// anchor kind. types limits the categories (nil: all).
func CheckPII(s string, types map[string]bool) []PIIFinding {
	want := func(c string) bool { return types == nil || types[c] }
	var out []PIIFinding
	if want(PIIEmail) {
		out = append(out, emails(s)...)
	}
	if want(PIIIBAN) {
		out = append(out, ibans(s)...)
	}
	out = append(out, digitRuns(s, want, out)...)
	if want(PIIIP) && strings.Count(s, ":") >= 2 {
		out = append(out, ipv6s(s)...)
	}
	return out
}

func isEmailLocal(c byte) bool {
	return isWordChar(c) || c == '.' || c == '%' || c == '+' || c == '-'
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
}

func emails(s string) []PIIFinding {
	var out []PIIFinding
	for off := 0; off < len(s); {
		j := strings.IndexByte(s[off:], '@')
		if j < 0 {
			break
		}
		at := off + j
		off = at + 1
		a := at
		for a > 0 && at-a < 64 && isEmailLocal(s[a-1]) {
			a--
		}
		for a < at && (s[a] == '.' || s[a] == '-') {
			a++
		}
		if a == at {
			continue
		}
		e := at + 1
		for e < len(s) && e-at < 255 && isDomainChar(s[e]) {
			e++
		}
		for e > at+1 && (s[e-1] == '.' || s[e-1] == '-') {
			e--
		}
		dom := s[at+1 : e]
		dot := strings.LastIndexByte(dom, '.')
		if dot <= 0 || len(dom)-dot-1 < 2 {
			continue
		}
		tld := dom[dot+1:]
		if !allLetters(tld) && !strings.HasPrefix(strings.ToLower(tld), "xn--") || e < len(s) && s[e] == ':' { // git@host:repo is an SSH remote
			continue
		}
		out = append(out, PIIFinding{PIIEmail, a, e})
		off = e
	}
	return out
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

func ibans(s string) []PIIFinding {
	var out []PIIFinding
	for i := 0; i+4 < len(s); i++ {
		c := s[i]
		if c < 'A' || c > 'Z' {
			continue
		}
		if i > 0 && isWordChar(s[i-1]) {
			continue
		}
		n, ok := ibanLengths[s[i:min(i+2, len(s))]]
		if !ok || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
			continue
		}
		// Collect n alphanumerics, allowing single spaces between groups.
		var b strings.Builder
		j := i
		for j < len(s) && b.Len() < n {
			ch := s[j]
			switch {
			case isDigit(ch) || ch >= 'A' && ch <= 'Z':
				b.WriteByte(ch)
			case ch == ' ' && j+1 < len(s) && s[j+1] != ' ':
			default:
				j = len(s) + 1
				continue
			}
			j++
		}
		if b.Len() != n || j < len(s) && isWordChar(s[j]) {
			continue
		}
		if ibanValid(b.String()) {
			out = append(out, PIIFinding{PIIIBAN, i, j})
			i = j
		}
	}
	return out
}

func ibanValid(iban string) bool {
	r := iban[4:] + iban[:4]
	var num strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		if isDigit(c) {
			num.WriteByte(c)
		} else {
			v := int(c-'A') + 10
			num.WriteByte(byte('0' + v/10))
			num.WriteByte(byte('0' + v%10))
		}
	}
	n, ok := new(big.Int).SetString(num.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digitRuns classifies runs of digits with separators: cards, SSNs,
// phones, IPv4. Spans already taken (IBANs) are skipped.
func digitRuns(s string, want func(string) bool, taken []PIIFinding) []PIIFinding {
	var out []PIIFinding
	budget := maxPhoneParses
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && !(s[i] == '+' && i+1 < len(s) && isDigit(s[i+1])) && !(s[i] == '(' && i+1 < len(s) && isDigit(s[i+1])) {
			continue
		}
		if i > 0 && (isWordChar(s[i-1]) || s[i-1] == '.' || s[i-1] == '-' || s[i-1] == '/' || s[i-1] == '#') {
			// Inside a word, a version, a path, after '#' (an issue
			// number, a URL's fragment): skip to the run's end.
			for i < len(s) && (isWordChar(s[i]) || s[i] == '.') {
				i++
			}
			continue
		}
		if covered(taken, i) {
			continue
		}
		// The run: digits and single separators.
		j := i
		digits := 0
		dots := 0
		seps := 0
		for j < len(s) {
			c := s[j]
			if isDigit(c) {
				digits++
				j++
				continue
			}
			if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+' && j == i) && j+1 < len(s) && (isDigit(s[j+1]) || c == ')' && s[j+1] == ' ' && j+2 < len(s) && isDigit(s[j+2])) {
				if c == '.' {
					dots++
				}
				seps++
				j++
				if c == ')' && s[j] == ' ' {
					j++
				}
				continue
			}
			break
		}
		run := s[i:j]
		if j < len(s) && (isWordChar(s[j]) || s[j] == '.' && j+1 < len(s) && isDigit(s[j+1])) {
			i = j
			continue
		}
		if digits > 19 && dots == 0 {
			// Several numbers written one after the other ("4012… 4012-…"):
			// classify each space-separated piece that is a card on its own.
			out = append(out, cardPieces(s, i, j, want)...)
			i = j
			continue
		}
		if f, ok := classifyRun(s, i, run, digits, dots, seps, want, &budget); ok && !(f.Category == PIIIP && versionBefore(s, i)) {
			f.Start, f.End = i, j
			out = append(out, f)
		}
		i = j
	}
	return out
}

func covered(fs []PIIFinding, i int) bool {
	for _, f := range fs {
		if i >= f.Start && i < f.End {
			return true
		}
	}
	return false
}

func classifyRun(s string, i int, run string, digits, dots, seps int, want func(string) bool, budget *int) (PIIFinding, bool) {
	if dots == 3 && digits >= 4 && digits <= 12 && want(PIIIP) && ipv4(run) {
		return PIIFinding{Category: PIIIP}, true
	}
	if dots > 0 && dots != 2 {
		return PIIFinding{}, false
	}
	d := onlyDigits(run)
	if digits >= 12 && digits <= 19 && want(PIICard) && dots == 0 && cardSeparators(run) && luhn(d) && (cardIIN(d) || cardWordBefore(s, i)) {
		return PIIFinding{Category: PIICard}, true
	}
	if digits == 9 && want(PIISSN) && len(run) == 11 && run[3] == run[6] && (run[3] == '-' || run[3] == ' ' || run[3] == '.') && ssnValid(d) {
		return PIIFinding{Category: PIISSN}, true
	}
	ssnShape := digits == 9 && len(run) == 11 && run[3] == run[6] && !isDigit(run[3])
	if want(PIIPhone) && !standInPhone(run, d) && !(nextToClock(s, i, i+len(run)) && !phoneWordBefore(s, i)) && !inIBANGroups(s, i) && (phone(run, d) || !isDate(run) && !ssnShape && !cardWordBefore(s, i) && intlPhone(s, i, run, d, budget)) {
		return PIIFinding{Category: PIIPhone}, true
	}
	return PIIFinding{}, false
}

// isDate: 2024-01-31, 31.01.2024, 01/31/2024 and times are not phones.
// A range of years (1991-2020) is not one either.
func isDate(run string) bool {
	run = strings.Trim(run, "() ")
	parts := strings.FieldsFunc(run, func(r rune) bool { return r == '-' || r == '.' || r == '/' })
	if len(parts) == 2 {
		return year(parts[0]) && year(parts[1])
	}
	if len(parts) != 3 {
		return false
	}
	return len(parts[0]) == 4 && len(parts[1]) <= 2 && len(parts[2]) <= 2 || len(parts[2]) == 4 && len(parts[0]) <= 2 && len(parts[1]) <= 2
}

func year(p string) bool { return len(p) == 4 && (p[:2] == "19" || p[:2] == "20") }

// sequentialDigits: 0123456789, 1234567890, 987654321, 111-111-1111: a
// stand-in typed along the keyboard's number row (where 0 follows 9) or
// on one key, not a number someone was given.
func sequentialDigits(d string) bool {
	if len(d) < 6 {
		return false
	}
	up, down, same := true, true, true
	for k := 1; k < len(d); k++ {
		a, b := d[k-1]-'0', d[k]-'0'
		up = up && b == (a+1)%10
		down = down && a == (b+1)%10
		same = same && a == b
	}
	return up || down || same
}

// standInPhone: the digits, or the national number after a country
// code of one to three digits ("+1 987 654 3210"), are a keyboard run.
func standInPhone(run, d string) bool {
	if sequentialDigits(d) {
		return true
	}
	if strings.HasPrefix(run, "+") {
		for cc := 1; cc <= 3 && len(d)-cc >= 8; cc++ {
			if sequentialDigits(d[cc:]) {
				return true
			}
		}
	}
	return false
}

// cardPieces finds cards among the space-separated groups of a long run.
func cardPieces(s string, i, j int, want func(string) bool) []PIIFinding {
	var out []PIIFinding
	if !want(PIICard) {
		return nil
	}
	var starts []int
	for k := i; k < j; k++ {
		if k == i || s[k-1] == ' ' {
			starts = append(starts, k)
		}
	}
	for a := 0; a < len(starts); a++ {
		for b := a + 1; b <= len(starts); b++ {
			end := j
			if b < len(starts) {
				end = starts[b] - 1
			}
			run := s[starts[a]:end]
			d := onlyDigits(run)
			if len(d) > 19 {
				break
			}
			if len(d) >= 12 && cardSeparators(run) && luhn(d) && cardIIN(d) {
				out = append(out, PIIFinding{PIICard, starts[a], end})
				a = b - 1
				break
			}
		}
	}
	return out
}

func onlyDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// cardSeparators: cards are written in groups of digits separated the
// same way throughout (or not at all), as the networks print them: a
// first group of four, then groups of three to six (4-4-4-4, 4-6-5,
// 4-4-4-4-3). Columns of numbers in a table or a hex dump ("67 04 42
// 53 06 06", "5808 62 0 494490723") are grouped otherwise.
func cardSeparators(run string) bool {
	var sep byte
	group, groups := 0, 0
	for i := 0; i <= len(run); i++ {
		if i < len(run) && isDigit(run[i]) {
			group++
			continue
		}
		if groups == 0 && group != 4 && i < len(run) || groups > 0 && (group < 3 || group > 6) {
			return false
		}
		groups++
		group = 0
		if i == len(run) {
			break
		}
		c := run[i]
		if c != ' ' && c != '-' {
			return false
		}
		if sep != 0 && c != sep {
			return false
		}
		sep = c
	}
	return true
}

func luhn(d string) bool {
	sum := 0
	alt := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if alt {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		alt = !alt
	}
	return sum%10 == 0
}

// cardIIN checks the issuer prefix and length of the card networks:
// Visa, Mastercard, American Express, Discover, JCB, Diners Club,
// UnionPay, Maestro, UATP, RuPay, Mir, Troy, Verve.
func cardIIN(d string) bool {
	p1 := int(d[0] - '0')
	p2 := atoi(d[:2])
	p3 := atoi(d[:3])
	p4 := atoi(d[:4])
	n := len(d)
	switch {
	case p1 == 4:
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return n == 16
	case p2 == 34 || p2 == 37:
		return n == 15
	case p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649:
		return n >= 16
	case p4 >= 3528 && p4 <= 3589:
		return n >= 16
	case p4 == 1800 || p4 == 2131:
		return n == 15 // JCB
	case p3 >= 300 && p3 <= 305, p2 == 36 || p2 == 38 || p2 == 39, p4 == 3095:
		return n >= 14
	case p2 == 62 || p2 == 81:
		return n >= 16
	case p4 >= 2200 && p4 <= 2204:
		return n >= 16 // Mir
	case p2 == 50 || p2 >= 56 && p2 <= 69:
		return n >= 12 // Maestro, RuPay, Verve, Troy
	case p1 == 1:
		return n == 15 // UATP
	}
	return false
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func ssnValid(d string) bool {
	area, group, serial := atoi(d[:3]), atoi(d[3:5]), atoi(d[5:])
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

func ipv4(run string) bool {
	parts := strings.Split(run, ".")
	if len(parts) != 4 {
		return false
	}
	var v [4]int
	for i, p := range parts {
		if p == "" || len(p) > 3 || len(p) > 1 && p[0] == '0' {
			return false
		}
		for k := 0; k < len(p); k++ {
			if !isDigit(p[k]) {
				return false
			}
		}
		v[i] = atoi(p)
		if v[i] > 255 {
			return false
		}
	}
	// Not personal: unspecified, loopback, broadcast, multicast, and
	// link-local (169.254.0.0/16, self-assigned on one link and the
	// clouds' metadata address), as for IPv6.
	switch {
	case v[0] == 0, v[0] == 127, v[0] == 255, v[0] >= 224, v[0] == 169 && v[1] == 254:
		return false
	}
	return !handTypedIPv4(v)
}

// handTypedIPv4: an address no network handed out to a person's device
// but a person typed: a network's own address (its host part zero:
// 10.0.0.0, 192.168.1.0, what routes and CIDR prefixes are written
// with), the same number four times (1.1.1.1, 10.10.10.10) or a count
// up or down (1.2.3.4, 4.3.2.1, 5.6.7.8). Documentation and
// configuration examples are made of them; an address a device was
// given is none of these. (A private network's first address, its
// router, stays a finding: the team's convention counts private
// addresses, and the sets label 192.168.1.1 personal.)
func handTypedIPv4(v [4]int) bool {
	if v[3] == 0 {
		return true
	}
	same, up, down := true, true, true
	for i := 1; i < 4; i++ {
		same = same && v[i] == v[0]
		up = up && v[i] == v[i-1]+1
		down = down && v[i] == v[i-1]-1
	}
	return same || up || down
}

// phone accepts international numbers (+CC and 7 to 14 more digits) and
// North American numbers in their usual written forms; dates, times and
// plain numbers are not phones.
func phone(run, d string) bool {
	if strings.HasPrefix(run, "+") {
		return len(d) >= 8 && len(d) <= 15 && strings.ContainsAny(run[1:], " -.()") || len(d) >= 10 && len(d) <= 15
	}
	if len(d) == 11 && d[0] == '1' {
		d = d[1:]
		if i := strings.IndexAny(run, " -.("); i != 1 {
			return false
		}
		run = strings.TrimLeft(run[1:], " -.")
	}
	if len(d) != 10 || d[0] < '2' || d[3] < '2' {
		return false
	}
	// (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567.
	switch {
	case len(run) == 14 && run[0] == '(' && run[4] == ')' && run[5] == ' ' && run[9] == '-':
		return true
	case len(run) == 13 && run[0] == '(' && run[4] == ')' && run[8] == '-':
		return true
	case len(run) == 12 && run[3] == run[7] && (run[3] == '-' || run[3] == '.' || run[3] == ' '):
		return true
	}
	return false
}

// versionBefore: "version 1.2.3.4", "ver. 10.4.17.3" are not addresses;
// the word is one of its own ("server 86.121.97.248" and "resolver" are
// no versions).
func versionBefore(s string, i int) bool {
	w := strings.ToLower(strings.TrimRight(s[max(0, i-12):i], " :=."))
	for _, v := range []string{"version", "ver", "release", "build"} {
		if strings.HasSuffix(w, v) && (len(w) == len(v) || !isWordChar(w[len(w)-len(v)-1])) {
			return true
		}
	}
	return false
}
