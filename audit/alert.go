package audit

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// KindAlert is the record of an alert rule that fired (`mcpgov audit
// alert --record`).
const KindAlert = "alert"

// Alert rule kinds.
const (
	AlertVolume         = "volume"          // one identity's calls in a window against its own baseline
	AlertOffHours       = "off_hours"       // calls of sensitive tools outside approved hours
	AlertNoAccess       = "no_access"       // denials of identities without MCP access
	AlertGuardrailSpike = "guardrail_spike" // guardrail blocks in a window, against their baseline
)

// Alert severities, as OTLP severity numbers.
var alertSeverities = map[string]int{"info": 9, "warning": 13, "error": 17, "critical": 21}

// AlertRule is one [[rule]] of an alert rules file.
type AlertRule struct {
	Name     string `toml:"name"`
	Kind     string `toml:"kind"`
	Severity string `toml:"severity"` // info, warning (default), error, critical
	// Window is the span counted (volume, no_access, guardrail_spike);
	// default 1h.
	Window string `toml:"window"`
	// Threshold is the count that fires (no_access default 1,
	// guardrail_spike default 10; volume: the least count that may fire,
	// default 20).
	Threshold int `toml:"threshold"`
	// Factor and Baseline (volume, guardrail_spike): fire when the count
	// exceeds Factor times the mean count of the previous Baseline
	// windows (default 3 and 24); a guardrail_spike rule with no Factor
	// fires on Threshold alone.
	Factor   float64 `toml:"factor"`
	Baseline int     `toml:"baseline"`
	// Servers and Tools are globs over catalog IDs and tool names
	// (off_hours: the sensitive tools; others: narrow the rule).
	Servers []string `toml:"servers"`
	Tools   []string `toml:"tools"`
	// Hours ("08:00-19:00"), Days ("mon" … "sun") and Timezone (an IANA
	// name, default UTC) are the approved hours of an off_hours rule.
	Hours    string   `toml:"hours"`
	Days     []string `toml:"days"`
	Timezone string   `toml:"timezone"`
	// Rules (no_access) are the decision rule IDs that mean the identity
	// has no MCP access; default identity-required, group-access,
	// approved-servers-only. An unauthenticated identity's denial counts too.
	Rules []string `toml:"rules"`

	window       time.Duration
	loc          *time.Location
	from, to     int // minutes of the day
	days         map[time.Weekday]bool
	noAccessRule map[string]bool
}

// AlertRules is an alert rules file.
type AlertRules struct {
	Rules []*AlertRule `toml:"rule"`
}

// Alert is one rule firing: on a record (off_hours) or on a count in a
// window. Evidence lists the sequence numbers of the records behind it.
type Alert struct {
	Rule     string    `json:"rule"`
	Kind     string    `json:"kind"`
	Severity string    `json:"severity"`
	Subject  string    `json:"subject"` // the identity, or "" for the whole trail
	Message  string    `json:"message"`
	Count    int       `json:"count,omitempty"`
	Baseline float64   `json:"baseline,omitempty"`
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Evidence []uint64  `json:"evidence"`
}

// SeverityNumber is the alert's OTLP severity number.
func (a *Alert) SeverityNumber() int { return alertSeverities[a.Severity] }

// LoadAlertRules reads an alert rules file strictly.
func LoadAlertRules(file string) (*AlertRules, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseAlertRules(file, text)
}

// ParseAlertRules parses and checks alert rules; unknown keys are errors.
func ParseAlertRules(file string, text []byte) (*AlertRules, error) {
	var rs AlertRules
	md, err := toml.Decode(string(text), &rs)
	if err != nil {
		return nil, fmt.Errorf("alert rules %s: %w", file, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("alert rules %s: unknown key %q", file, und[0].String())
	}
	if len(rs.Rules) == 0 {
		return nil, fmt.Errorf("alert rules %s: no [[rule]]", file)
	}
	names := map[string]bool{}
	for i, r := range rs.Rules {
		if err := r.prepare(); err != nil {
			return nil, fmt.Errorf("alert rules %s: rule %d (%s): %w", file, i+1, r.Name, err)
		}
		if names[r.Name] {
			return nil, fmt.Errorf("alert rules %s: two rules are named %q", file, r.Name)
		}
		names[r.Name] = true
	}
	return &rs, nil
}

func (r *AlertRule) prepare() error {
	if r.Name == "" {
		r.Name = r.Kind
	}
	if r.Severity == "" {
		r.Severity = "warning"
	}
	if _, ok := alertSeverities[r.Severity]; !ok {
		return fmt.Errorf("severity %q: want info, warning, error or critical", r.Severity)
	}
	r.window = time.Hour
	if r.Window != "" {
		d, err := ParseAge(r.Window)
		if err != nil || d <= 0 {
			return fmt.Errorf("window %q: want a duration (10m, 1h, 1d)", r.Window)
		}
		r.window = d
	}
	if r.Baseline == 0 {
		r.Baseline = 24
	}
	switch r.Kind {
	case AlertVolume:
		if r.Factor == 0 {
			r.Factor = 3
		}
		if r.Threshold == 0 {
			r.Threshold = 20
		}
	case AlertGuardrailSpike:
		if r.Threshold == 0 {
			r.Threshold = 10
		}
	case AlertNoAccess:
		if r.Threshold == 0 {
			r.Threshold = 1
		}
		if len(r.Rules) == 0 {
			r.Rules = []string{"identity-required", "group-access", "approved-servers-only"}
		}
		r.noAccessRule = map[string]bool{}
		for _, id := range r.Rules {
			r.noAccessRule[id] = true
		}
	case AlertOffHours:
		if len(r.Servers) == 0 && len(r.Tools) == 0 {
			return errors.New("an off_hours rule names its sensitive servers or tools")
		}
		from, to, ok := parseHours(r.Hours)
		if !ok {
			return fmt.Errorf("hours %q: want HH:MM-HH:MM", r.Hours)
		}
		r.from, r.to = from, to
		tz := r.Timezone
		if tz == "" {
			tz = "UTC"
		}
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return fmt.Errorf("timezone %q: %w", tz, err)
		}
		r.loc = loc
		days := r.Days
		if len(days) == 0 {
			days = []string{"mon", "tue", "wed", "thu", "fri"}
		}
		r.days = map[time.Weekday]bool{}
		for _, d := range days {
			wd, ok := weekdays[strings.ToLower(d)]
			if !ok {
				return fmt.Errorf("day %q: want mon, tue, wed, thu, fri, sat or sun", d)
			}
			r.days[wd] = true
		}
	default:
		return fmt.Errorf("kind %q: want volume, off_hours, no_access or guardrail_spike", r.Kind)
	}
	if r.Threshold < 0 || r.Factor < 0 || r.Baseline < 0 {
		return errors.New("threshold, factor and baseline must not be negative")
	}
	return nil
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func parseHours(s string) (int, int, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, false
	}
	from, ok1 := parseClock(a)
	to, ok2 := parseClock(b)
	return from, to, ok1 && ok2 && from < to
}

func parseClock(s string) (int, bool) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func (r *AlertRule) covers(rec *Record) bool {
	return globsMatch(r.Servers, rec.Server.ID, rec.Server.Name) && globsMatch(r.Tools, rec.Tool)
}

func globsMatch(globs []string, vals ...string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		for _, v := range vals {
			if ok, _ := path.Match(g, v); ok && v != "" {
				return true
			}
		}
	}
	return false
}

// AlertEvaluator runs alert rules over records in trail order. Windows
// are counted on the records' own times, so a trail evaluates the same
// whenever it is read.
type AlertEvaluator struct {
	rules  []*AlertRule
	counts map[string]*windowCounts // rule + subject -> counts by window
	fired  map[string]bool          // rule + subject + window already fired
}

type windowCounts struct {
	first   int64 // the first window index seen
	byIndex map[int64]int
	seqs    map[int64][]uint64
}

// NewAlertEvaluator starts evaluating rules.
func NewAlertEvaluator(rs *AlertRules) *AlertEvaluator {
	return &AlertEvaluator{rules: rs.Rules, counts: map[string]*windowCounts{}, fired: map[string]bool{}}
}

// maxEvidence bounds the sequence numbers an alert lists.
const maxEvidence = 20

// Add evaluates one record and returns the alerts it fires.
func (e *AlertEvaluator) Add(rec *Record) []*Alert {
	kind := rec.Kind
	if kind == KindPlaceholder {
		kind = rec.SuppressedKind
	}
	if kind != KindToolCall {
		return nil
	}
	var out []*Alert
	for _, r := range e.rules {
		if !r.covers(rec) {
			continue
		}
		if a := e.apply(r, rec); a != nil {
			out = append(out, a)
		}
	}
	return out
}

func (e *AlertEvaluator) apply(r *AlertRule, rec *Record) *Alert {
	who := identityName(rec.Identity)
	switch r.Kind {
	case AlertOffHours:
		if DecisionOf(rec) != "allow" { // access: a refused call reached nothing
			return nil
		}
		t := rec.Time.In(r.loc)
		m := t.Hour()*60 + t.Minute()
		if r.days[t.Weekday()] && m >= r.from && m < r.to {
			return nil
		}
		return &Alert{Rule: r.Name, Kind: r.Kind, Severity: r.Severity, Subject: who, Since: rec.Time, Until: rec.Time, Evidence: []uint64{rec.Seq},
			Message: fmt.Sprintf("%s called %s/%s at %s, outside the approved hours (%s %s)", who, serverName(rec), rec.Tool, t.Format("Mon 15:04 MST"), r.Hours, strings.Join(r.dayNames(), ","))}
	case AlertVolume:
		return e.count(r, rec, who, true, func(n int, base float64) string {
			return fmt.Sprintf("%s made %d calls in %s, against a baseline of %.1f per %s", who, n, r.window, base, r.window)
		})
	case AlertNoAccess:
		if DecisionOf(rec) != "deny" || !(r.noAccess(rec)) {
			return nil
		}
		return e.count(r, rec, who, false, func(n int, _ float64) string {
			return fmt.Sprintf("%s, who has no MCP access, was refused %d times in %s (last: %s/%s)", who, n, r.window, serverName(rec), rec.Tool)
		})
	case AlertGuardrailSpike:
		if !guardrailBlocked(rec) {
			return nil
		}
		return e.count(r, rec, "", r.Factor > 0, func(n int, base float64) string {
			if r.Factor > 0 {
				return fmt.Sprintf("guardrails blocked %d calls in %s, against a baseline of %.1f", n, r.window, base)
			}
			return fmt.Sprintf("guardrails blocked %d calls in %s", n, r.window)
		})
	}
	return nil
}

func (r *AlertRule) dayNames() []string {
	var out []string
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		if r.days[weekdays[d]] {
			out = append(out, d)
		}
	}
	return out
}

func (r *AlertRule) noAccess(rec *Record) bool {
	if !rec.Identity.Authenticated() {
		return true
	}
	for _, id := range rec.Decision.RuleIDs {
		if r.noAccessRule[id] {
			return true
		}
	}
	return false
}

func guardrailBlocked(rec *Record) bool {
	if DecisionOf(rec) != "deny" {
		return false
	}
	return slices.ContainsFunc(rec.Decision.RuleIDs, func(id string) bool { return strings.HasPrefix(id, "guardrail.") })
}

// count adds rec to its rule and subject's window and fires once per
// window when the count reaches the threshold (and, with baseline, the
// factor over the mean of the previous windows).
func (e *AlertEvaluator) count(r *AlertRule, rec *Record, subject string, baseline bool, msg func(int, float64) string) *Alert {
	key := r.Name + "\x00" + subject
	wc := e.counts[key]
	idx := rec.Time.UnixNano() / int64(r.window)
	if wc == nil {
		wc = &windowCounts{first: idx, byIndex: map[int64]int{}, seqs: map[int64][]uint64{}}
		e.counts[key] = wc
	}
	wc.byIndex[idx]++
	if len(wc.seqs[idx]) < maxEvidence {
		wc.seqs[idx] = append(wc.seqs[idx], rec.Seq)
	}
	for i := range wc.byIndex { // keep only the baseline's windows
		if i < idx-int64(r.Baseline) {
			delete(wc.byIndex, i)
			delete(wc.seqs, i)
		}
	}
	n := wc.byIndex[idx]
	if n < r.Threshold {
		return nil
	}
	var base float64
	if baseline {
		prev := min(int64(r.Baseline), idx-wc.first)
		if prev <= 0 {
			return nil // no history yet to compare with
		}
		sum := 0
		for i := idx - prev; i < idx; i++ {
			sum += wc.byIndex[i]
		}
		base = float64(sum) / float64(prev)
		if float64(n) <= r.Factor*max(base, 1) {
			return nil
		}
	}
	fk := fmt.Sprintf("%s\x00%d", key, idx)
	if e.fired[fk] {
		return nil
	}
	e.fired[fk] = true
	since := time.Unix(0, idx*int64(r.window)).UTC()
	return &Alert{Rule: r.Name, Kind: r.Kind, Severity: r.Severity, Subject: subject, Message: msg(n, base), Count: n, Baseline: base,
		Since: since, Until: since.Add(r.window), Evidence: slices.Clone(wc.seqs[idx])}
}

func identityName(id Identity) string {
	switch {
	case id.Email != "":
		return id.Email
	case id.Subject != "":
		return id.Subject
	}
	return "anonymous"
}

func serverName(rec *Record) string {
	if rec.Server.ID != "" {
		return rec.Server.ID
	}
	return rec.Server.Name
}

// AlertRecord is the audit record of an alert.
func AlertRecord(a *Alert, now time.Time) *Record {
	// The identity an alert is about is in Alert.Subject: the record's
	// Identity is who made it, nobody.
	return &Record{Kind: KindAlert, Time: now.UTC(), Reason: a.Message, Alert: a,
		Decision: Decision{Allow: true}, Identity: Identity{Method: "none"}}
}
