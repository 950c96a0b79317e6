package enforce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/catalog"
)

// Facts are what one client session has done so far, for policies that
// decide on the session rather than the call alone ("lethal trifecta"
// rules: private data read, untrusted content ingested, then a tool that
// can send data out). The core notes each call whose result reached the
// client; every call's pre hook sees a snapshot (Call.Facts). Cores of
// one session share a Facts (Config.Facts); it is safe for concurrent use.
type Facts struct {
	mu        sync.Mutex
	calls     int
	servers   map[string]bool
	tools     map[string]bool
	classes   map[string]Taint
	untrusted *Taint
	// learned, when set, is told the facts each time a call establishes
	// one they did not hold (a server, a tool, a data class, untrusted
	// content), before the call's answer goes to the client.
	learned func(FactsState)
	// annotations and annotated remember the last annotations read for
	// openWorldHint and what they said: a session mostly calls the same
	// tools.
	annotations string
	annotated   bool
}

// FactsState is Facts as a store keeps it, so that another process
// serving the same session (a gateway replica) goes on from them.
type FactsState struct {
	Calls     int              `json:"calls"`
	Servers   []string         `json:"servers"`
	Tools     []string         `json:"tools"`
	Classes   map[string]Taint `json:"classes"`
	Untrusted *Taint           `json:"untrusted,omitempty"`
}

// RestoreFacts returns the facts s describes, telling learned (when not
// nil) each time a later call adds to them.
func RestoreFacts(s FactsState, learned func(FactsState)) *Facts {
	f := &Facts{calls: s.Calls, servers: map[string]bool{}, tools: map[string]bool{}, classes: map[string]Taint{}, learned: learned}
	for _, v := range s.Servers {
		f.servers[v] = true
	}
	for _, v := range s.Tools {
		f.tools[v] = true
	}
	maps.Copy(f.classes, s.Classes)
	if s.Untrusted != nil {
		t := *s.Untrusted
		f.untrusted = &t
	}
	return f
}

// stateLocked is f's FactsState; f.mu is held.
func (f *Facts) stateLocked() FactsState {
	s := FactsState{Calls: f.calls, Servers: sortedKeys(f.servers), Tools: sortedKeys(f.tools), Classes: maps.Clone(f.classes)}
	if s.Classes == nil {
		s.Classes = map[string]Taint{}
	}
	if f.untrusted != nil {
		t := *f.untrusted
		s.Untrusted = &t
	}
	return s
}

// Taint names the earlier call that brought a fact into the session, so a
// refusal can say which call it was.
type Taint struct {
	Server string    `json:"server"`
	Tool   string    `json:"tool"`
	Call   int       `json:"call"`   // the session's Nth call
	Record string    `json:"record"` // its audit record's id; "" when none was stored
	Time   time.Time `json:"time"`
	Why    string    `json:"why"` // how the fact was established
}

// FactsView is a snapshot of Facts, as the policy input's session.
type FactsView struct {
	Calls       int      // calls whose results reached the client
	Servers     []string // catalog IDs (or names) called
	Tools       []string // "server/tool" called
	DataClasses []string // data classes read
	Untrusted   bool     // untrusted content ingested
	// Taint maps "data:CLASS" and "untrusted" to the first call that
	// established each.
	Taint map[string]Taint
}

// Data classes the guardrails' findings establish, by guardrail kind.
var findingClasses = map[string]string{"pii": "pii", "secrets": "secret"}

// View returns a snapshot.
func (f *Facts) View() *FactsView {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := &FactsView{Calls: f.calls, Servers: sortedKeys(f.servers), Tools: sortedKeys(f.tools), Taint: map[string]Taint{}}
	for c, t := range f.classes {
		v.DataClasses = append(v.DataClasses, c)
		v.Taint["data:"+c] = t
	}
	sort.Strings(v.DataClasses)
	if f.untrusted != nil {
		v.Untrusted = true
		v.Taint["untrusted"] = *f.untrusted
	}
	return v
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Observe notes a call whose result reached the client (a replay
// rebuilding a recorded session's facts); see observe.
func (f *Facts) Observe(server *catalog.Server, serverName string, call *Call, guardrails []Guardrail, record string, t time.Time) {
	f.observe(server, serverName, call, guardrails, record, t)
}

// observe notes a call whose result reached the client: the server's
// catalog data scope, the data classes and untrusted content the post
// guardrails found in its result, and whether the tool's content is
// untrusted (catalog tools.untrusted, annotation openWorldHint).
func (f *Facts) observe(server *catalog.Server, serverName string, call *Call, guardrails []Guardrail, record string, now time.Time) {
	f.mu.Lock()
	learned := f.observeLocked(server, serverName, call, guardrails, record, now)
	var st FactsState
	if learned && f.learned != nil {
		st = f.stateLocked()
	}
	hook := f.learned
	f.mu.Unlock()
	if learned && hook != nil {
		hook(st)
	}
}

// observeLocked is observe with f.mu held; it reports whether the call
// established a fact the session did not hold.
func (f *Facts) observeLocked(server *catalog.Server, serverName string, call *Call, guardrails []Guardrail, record string, now time.Time) (learned bool) {
	if f.servers == nil {
		f.servers, f.tools, f.classes = map[string]bool{}, map[string]bool{}, map[string]Taint{}
	}
	f.calls++
	tool := serverName + "/" + call.Tool
	learned = !f.servers[serverName] || !f.tools[tool]
	f.servers[serverName] = true
	f.tools[tool] = true
	taint := func(why string) Taint {
		return Taint{Server: serverName, Tool: call.Tool, Call: f.calls, Record: record, Time: now.UTC(), Why: why}
	}
	addClass := func(c, why string) {
		if _, ok := f.classes[c]; !ok && c != "" && c != "none" {
			f.classes[c] = taint(why)
			learned = true
		}
	}
	setUntrusted := func(why string) {
		if f.untrusted == nil {
			t := taint(why)
			f.untrusted = &t
			learned = true
		}
	}
	if server != nil {
		for _, c := range server.DataScope {
			addClass(c, fmt.Sprintf("the catalog's data_scope of %s", server.ID))
		}
		if server.ToolUntrusted(call.Tool) {
			setUntrusted(fmt.Sprintf("the catalog marks %s's results untrusted", call.Tool))
		}
	}
	if f.untrusted == nil && f.openWorld(call.Annotations) {
		setUntrusted(fmt.Sprintf("%s is annotated openWorldHint", call.Tool))
	}
	for _, g := range guardrails {
		if g.Hook != "post" || len(g.Findings) == 0 {
			continue
		}
		rules := []string{}
		for _, fd := range g.Findings {
			if !slices.Contains(rules, fd.Rule) {
				rules = append(rules, fd.Rule)
			}
		}
		why := fmt.Sprintf("guardrail %s found %s in its result", g.Name, strings.Join(rules, ", "))
		if c, ok := findingClasses[g.Kind]; ok {
			addClass(c, why)
		}
		if g.Kind == "injection" {
			setUntrusted(why)
		}
	}
	return learned
}

// observed reports whether a call's outcome means its result reached the
// client.
func observed(outcome string) bool {
	return outcome == audit.OutcomeAllowed || outcome == audit.OutcomeRedacted
}

// openWorld is openWorld for the facts' session, remembering the last
// annotations it read. Called with f.mu held.
func (f *Facts) openWorld(annotations json.RawMessage) bool {
	if string(annotations) != f.annotations {
		f.annotations, f.annotated = string(annotations), openWorld(annotations)
	}
	return f.annotated
}

// openWorld reports whether tool annotations say openWorldHint: true.
// Annotations that cannot hold the member are not decoded: its name
// would be spelled out in ASCII, in any case (encoding/json matches
// member names regardless of case), or hold an escape or a non-ASCII
// letter that folds to an ASCII one.
func openWorld(annotations json.RawMessage) bool {
	if len(annotations) == 0 || !mayName(annotations, "openworldhint") {
		return false
	}
	var ann struct {
		OpenWorld *bool `json:"openWorldHint"`
	}
	return json.Unmarshal(annotations, &ann) == nil && ann.OpenWorld != nil && *ann.OpenWorld
}

// mayName reports whether a JSON text may hold a member named name (in
// lower case ASCII) as encoding/json matches names: it holds name in any
// case, a backslash, or a byte beyond ASCII.
func mayName(text []byte, name string) bool {
	for _, c := range text {
		if c == '\\' || c >= utf8.RuneSelf {
			return true
		}
	}
	for i := 0; i+len(name) <= len(text); i++ {
		if bytes.EqualFold(text[i:i+len(name)], []byte(name)) {
			return true
		}
	}
	return false
}
