package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EventName is the OpenTelemetry event name of an audit log record.
const EventName = "mcpgov.audit.tool_call"

// AlertEventName is the OpenTelemetry event name of an alert.
const AlertEventName = "mcpgov.audit.alert"

// SendOTLP sends records (alerts) to an OTLP/HTTP logs endpoint once,
// as Shipper does without a cursor.
func SendOTLP(ctx context.Context, endpoint string, headers http.Header, recs []*Record) error {
	u, err := LogsURL(endpoint)
	if err != nil {
		return err
	}
	return (&Shipper{Headers: headers}).export(ctx, u, recs)
}

// Shipper sends a store's records to an OTLP/HTTP logs endpoint as OTLP
// log records, driven by a cursor persisted in the store: a batch is sent,
// and only when the receiver accepted it (2xx) does the cursor move. The
// OTel SDK's batching processor drops records under bursts; this does not.
// Delivery is at least once: receivers de-duplicate on mcpgov.audit.id.
type Shipper struct {
	Dir      string
	Endpoint string // http(s)://host:port[/v1/logs]
	Headers  http.Header
	Batch    int // records per export request (default 500)
	Client   *http.Client
	Resource map[string]string // resource attributes (service.name etc.)
}

// ShipReport says what one Ship pass did.
type ShipReport struct {
	Endpoint string `json:"endpoint"`
	Sent     int    `json:"sent"`
	Cursor   uint64 `json:"cursor"` // last seq the receiver accepted
}

// LogsURL is the endpoint with the OTLP logs path added when it has none.
func LogsURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid OTLP endpoint %q: want http(s)://host:port[/v1/logs]", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/logs"
	}
	return u.String(), nil
}

func (s *Shipper) cursorPath(endpoint string) string {
	sum := sha256.Sum256([]byte(endpoint))
	return filepath.Join(s.Dir, "ship-"+hex.EncodeToString(sum[:6])+".cursor")
}

type cursorFile struct {
	Endpoint string `json:"endpoint"`
	Seq      uint64 `json:"seq"`
}

// Cursor is the last seq the endpoint accepted (0: none yet).
func (s *Shipper) Cursor() (uint64, error) {
	endpoint, err := LogsURL(s.Endpoint)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(s.cursorPath(endpoint))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read ship cursor: %w", err)
	}
	var c cursorFile
	if err := json.Unmarshal(b, &c); err != nil {
		return 0, fmt.Errorf("ship cursor %s: %w", s.cursorPath(endpoint), err)
	}
	return c.Seq, nil
}

// Ship sends every record after the cursor, batch by batch. It stops at
// the first failed export with the cursor at the last accepted record, so
// the next Ship resumes there.
func (s *Shipper) Ship(ctx context.Context) (*ShipReport, error) {
	endpoint, err := LogsURL(s.Endpoint)
	if err != nil {
		return nil, err
	}
	cursor, err := s.Cursor()
	if err != nil {
		return nil, err
	}
	rep := &ShipReport{Endpoint: endpoint, Cursor: cursor}
	batch := make([]*Record, 0, max(s.Batch, 1))
	limit := s.Batch
	if limit <= 0 {
		limit = 500
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.export(ctx, endpoint, batch); err != nil {
			return err
		}
		last := batch[len(batch)-1].Seq
		b, _ := json.Marshal(cursorFile{Endpoint: endpoint, Seq: last})
		if err := writeFileSync(s.cursorPath(endpoint), append(b, '\n'), 0o600); err != nil {
			return fmt.Errorf("save ship cursor: %w", err)
		}
		rep.Sent += len(batch)
		rep.Cursor = last
		batch = batch[:0]
		return nil
	}
	err = Records(s.Dir, Filter{AfterSeq: cursor}, func(r *Record, _ []byte) error {
		batch = append(batch, r)
		if len(batch) >= limit {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return rep, err
}

func (s *Shipper) export(ctx context.Context, endpoint string, recs []*Record) error {
	body, err := otlpLogs(recs, s.Resource)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range s.Headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("export to %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("export to %s: %s: %s", endpoint, resp.Status, strings.TrimSpace(string(msg)))
	}
	// A 2xx with partial_success.rejectedLogRecords means some were dropped.
	var ps struct {
		PartialSuccess struct {
			Rejected json.Number `json:"rejectedLogRecords"`
			Message  string      `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	if json.Unmarshal(msg, &ps) == nil && ps.PartialSuccess.Rejected != "" && ps.PartialSuccess.Rejected != "0" {
		return fmt.Errorf("export to %s: receiver rejected %s records: %s", endpoint, ps.PartialSuccess.Rejected, ps.PartialSuccess.Message)
	}
	return nil
}

// otlpLogs encodes records as an OTLP/JSON ExportLogsServiceRequest.
func otlpLogs(recs []*Record, resource map[string]string) ([]byte, error) {
	type kv = map[string]any
	resAttrs := []kv{{"key": "service.name", "value": kv{"stringValue": "mcpgov"}}}
	for k, v := range resource {
		resAttrs = append(resAttrs, kv{"key": k, "value": kv{"stringValue": v}})
	}
	logs := make([]kv, 0, len(recs))
	for _, r := range recs {
		raw, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		var body any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			return nil, err
		}
		sev, sevText := 9, "INFO"
		if !r.Decision.Allow {
			sev, sevText = 13, "WARN"
		}
		event := EventName
		if r.Kind == KindAlert && r.Alert != nil {
			sev, sevText, event = r.Alert.SeverityNumber(), strings.ToUpper(r.Alert.Severity), AlertEventName
		}
		attrs := []kv{
			{"key": "mcpgov.audit.id", "value": kv{"stringValue": r.ID}},
			{"key": "mcpgov.audit.seq", "value": kv{"intValue": strconv.FormatUint(r.Seq, 10)}},
			{"key": "mcpgov.audit.kind", "value": kv{"stringValue": r.Kind}},
			{"key": "mcpgov.decision", "value": kv{"stringValue": DecisionOf(r)}},
		}
		if r.Method != "" {
			attrs = append(attrs, kv{"key": "mcp.method.name", "value": kv{"stringValue": r.Method}})
		}
		if r.Tool != "" {
			attrs = append(attrs, kv{"key": "gen_ai.tool.name", "value": kv{"stringValue": r.Tool}})
		}
		if r.Alert != nil {
			attrs = append(attrs, kv{"key": "mcpgov.alert.rule", "value": kv{"stringValue": r.Alert.Rule}},
				kv{"key": "mcpgov.alert.kind", "value": kv{"stringValue": r.Alert.Kind}})
		}
		if r.Session != "" {
			attrs = append(attrs, kv{"key": "mcp.session.id", "value": kv{"stringValue": r.Session}})
		}
		ts := strconv.FormatInt(r.Time.UnixNano(), 10)
		logs = append(logs, kv{
			"timeUnixNano": ts, "observedTimeUnixNano": ts,
			"severityNumber": sev, "severityText": sevText,
			"eventName": event, "body": anyValue(body), "attributes": attrs,
		})
	}
	return json.Marshal(kv{"resourceLogs": []kv{{
		"resource":  kv{"attributes": resAttrs},
		"scopeLogs": []kv{{"scope": kv{"name": "mcpgov.audit", "version": strconv.Itoa(SchemaVersion)}, "logRecords": logs}},
	}}})
}

// anyValue converts decoded JSON into an OTLP AnyValue.
func anyValue(v any) map[string]any {
	switch v := v.(type) {
	case nil:
		return map[string]any{}
	case string:
		return map[string]any{"stringValue": v}
	case bool:
		return map[string]any{"boolValue": v}
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return map[string]any{"intValue": strconv.FormatInt(i, 10)}
		}
		f, _ := v.Float64()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return map[string]any{"stringValue": v.String()}
		}
		return map[string]any{"doubleValue": f}
	case []any:
		vals := make([]map[string]any, len(v))
		for i, e := range v {
			vals[i] = anyValue(e)
		}
		return map[string]any{"arrayValue": map[string]any{"values": vals}}
	case map[string]any:
		vals := make([]map[string]any, 0, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			vals = append(vals, map[string]any{"key": k, "value": anyValue(v[k])})
		}
		return map[string]any{"kvlistValue": map[string]any{"values": vals}}
	}
	return map[string]any{"stringValue": fmt.Sprint(v)}
}
