package gateway

import (
	"encoding/json"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/mcpgov/mcpgov/policy/rpc"
)

// A stateless client's log level. The revision (2026-07-28) has no
// logging/setLevel: each request names in its _meta the least level of
// the notifications/message it wants on its stream, and a request without
// one gets none. The gateway passes the level to an upstream that speaks
// the revision (a legacy upstream session refuses the revision's _meta
// members, and its level is its session's), and lets through on a
// stateless request's stream only the log messages at or above the level
// that request named, whatever its upstream sends.

// metaLogLevel is the _meta member with a request's log level.
const metaLogLevel = "io.modelcontextprotocol/logLevel"

// logLevels ranks the levels of RFC 5424, as MCP names them.
var logLevels = map[string]int{"debug": 0, "info": 1, "notice": 2, "warning": 3, "error": 4, "critical": 5, "alert": 6, "emergency": 7}

// requestLogLevel reads a stateless request's log level: "" when it names
// none, or one that is not a level.
func requestLogLevel(params json.RawMessage) string {
	var p struct {
		Meta map[string]any `json:"_meta"`
	}
	if len(params) == 0 || jsonv2.Unmarshal(params, &p, jsonv2.RejectUnknownMembers(false)) != nil {
		return ""
	}
	level, _ := p.Meta[metaLogLevel].(string)
	if _, ok := logLevels[level]; !ok {
		return ""
	}
	return level
}

// takesLog reports whether m may go on rep's stream: anything but a log
// message does; a stateless request's stream takes a log message at or
// above the level the request named, none when it named none.
func (rep *reply) takesLog(m *rpc.Message) bool {
	if m.Method != "notifications/message" || rep.call == nil {
		return true
	}
	want, ok := logLevels[rep.call.logLevel]
	if !ok {
		return false
	}
	var p struct {
		Level string `json:"level"`
	}
	_ = jsonv2.Unmarshal(m.Params, &p, jsonv2.RejectUnknownMembers(false))
	got, ok := logLevels[p.Level]
	return ok && got >= want
}
