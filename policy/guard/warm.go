package guard

import (
	"sync"

	"github.com/corazawaf/libinjection-go"

	"github.com/mcpgov/mcpgov/policy/guard/review"
	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// warmWG counts the warm-ups under way (tests wait on it).
var warmWG sync.WaitGroup

// warm builds the regex tables and rule sets of the given kinds of
// guardrail that package init built before they were made lazy. NewSet
// runs it on a goroutine of its own: a process that never guards a call
// does not pay for them at start, and one that does pays while it starts
// its server, not in its first guarded call. Each table is a sync.Once, so
// a check that comes first builds it, and warm finds it built.
//
// What was built on first use before (the phone-number metadata, the
// reviewer's phrase rules, the gitleaks keyword index, the code anchors)
// is left to the first call: warming it too took the first guarded call
// from ~8 ms to ~0.1 ms but raised a guarded shim's peak RSS by 5-10 MB,
// against the 30 MB target.
func warm(kinds map[string]bool) {
	defer warmWG.Done()
	if kinds[KindSecrets] || kinds[KindPII] || kinds[KindRegex] {
		secret.Warm() // findings are masked through secret's patterns
	}
	if kinds[KindSQL] {
		libinjection.IsSQLi("1 OR 1=1") // builds its keyword map
	}
	if kinds[KindInjection] || kinds[KindPoisoning] {
		injectionReviewer()
		review.Warm()
		urlPlaceholder()
		urlDirective()
	}
	if kinds[KindPoisoning] {
		poisonRules()
		hijackCondition()
		hijackMarker()
		harmfulTool()
	}
}
