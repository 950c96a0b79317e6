package guard

import (
	"sync"

	"github.com/nyaruka/phonenumbers"

	"github.com/mcpgov/mcpgov/policy/guard/review"
	"github.com/mcpgov/mcpgov/policy/guard/secret"
)

// warmWG counts the warm-ups under way (tests wait on it).
var warmWG sync.WaitGroup

// warm builds the tables and patterns the given kinds of guardrail build
// on first use (regex tables, rule sets, the phone-number metadata). NewSet
// runs it on a goroutine of its own: a process that never guards a call
// does not pay for them at start, and one that does pays while it starts
// its server, not in its first guarded call. Each table is a sync.Once, so
// a check that comes first builds it, and warm finds it built.
func warm(kinds map[string]bool) {
	defer warmWG.Done()
	if kinds[KindSecrets] || kinds[KindPII] || kinds[KindRegex] {
		secret.Warm() // findings are masked through secret's patterns
	}
	if kinds[KindPII] {
		_, _ = phonenumbers.Parse("+41 44 668 18 00", "CH") // loads the metadata
	}
	if kinds[KindCode] {
		anchorTrie()
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
