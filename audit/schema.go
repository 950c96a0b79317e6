package audit

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/google/jsonschema-go/jsonschema"
)

// SchemaID is the $id of Record's JSON Schema.
const SchemaID = "https://mcpgov.dev/schema/audit-record/v1.json"

// Schema returns the JSON Schema (draft 2020-12) of one stored record line.
func Schema() ([]byte, error) {
	s, err := jsonschema.For[Record](&jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
		// Redacted arguments are whatever JSON the call carried.
		reflect.TypeFor[json.RawMessage](): {Description: "the call's arguments, redacted"},
	}})
	if err != nil {
		return nil, fmt.Errorf("audit record schema: %w", err)
	}
	s.Schema = "https://json-schema.org/draft/2020-12/schema"
	s.ID = SchemaID
	s.Title = "mcpgov audit record"
	s.Description = fmt.Sprintf("One governed event in mcpgov's audit trail (schema version %d): one JSON line per record, chained by prev = SHA-256 of the previous line.", SchemaVersion)
	if p := s.Properties["kind"]; p != nil {
		p.Enum = []any{KindToolCall, KindServerRefused, KindToolDrift, KindToolHidden, KindToolReview, KindPlaceholder, KindMessageRefused, KindListUndecided}
	}
	if p := s.Properties["outcome"]; p != nil {
		p.Enum = []any{OutcomeAllowed, OutcomeDenied, OutcomeError, OutcomeCancelled, OutcomeRedacted}
	}
	if p := s.Properties["logging"]; p != nil {
		p.Enum = []any{LoggingAlways, LoggingHeaderControlled, LoggingNever}
	}
	if p := s.Properties["prev"]; p != nil {
		p.Pattern = "^[0-9a-f]{64}$"
	}
	return json.MarshalIndent(s, "", "  ")
}
