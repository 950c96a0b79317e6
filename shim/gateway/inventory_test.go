package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/scan/fleet"
	"github.com/mcpgov/mcpgov/shim/gateway"
)

// memFleet is an in-memory fleet.Store.
type memFleet struct {
	mu sync.Mutex
	st fleet.State
	by []fleet.Uploader
}

func (m *memFleet) Record(_ context.Context, u fleet.Upload, by fleet.Uploader, now time.Time) (fleet.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.by = append(m.by, by)
	return m.st.Apply(u, by, now), nil
}

func (m *memFleet) Inventory(context.Context) (fleet.Inventory, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.Summarize(), nil
}

// TestInventoryEndpoint: uploads are recorded under the authenticated
// caller, an anonymous caller may neither upload nor read, a malformed or
// oversized upload is refused with a reason, and only reader groups read.
func TestInventoryEndpoint(t *testing.T) {
	store := &memFleet{}
	identify := func(r *http.Request) (audit.Identity, error) {
		if r.Header.Get("Authorization") == "" {
			return audit.Identity{Method: "anonymous", Subject: "anonymous"}, nil
		}
		return bearerIdentify(r)
	}
	h, err := gateway.New(gateway.Options{Governance: &fakeGov{}, Identify: identify, Inventory: store, InventoryReaders: []string{"sec"}, MaxBody: 4096})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	do := func(method, token, body string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+gateway.InventoryPath, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good := `{"schemaVersion":1,"machine":{"id":"m1","name":"a","os":"linux","arch":"amd64","scanner":"x"},"scannedAt":"2026-01-01T00:00:00Z","servers":[{"identity":"npm:x","name":"x","client":"cursor","scope":"user","transport":"stdio","shadow":true,"governed":false,"disabled":false}]}`
	if code, body := do(http.MethodPost, "ann:eng", good); code != 200 || !strings.Contains(body, `"new":1`) {
		t.Fatalf("upload: %d %s", code, body)
	}
	if len(store.by) != 1 || store.by[0].Subject != "ann" || store.by[0].Method != "jwt" {
		t.Errorf("recorded uploader %+v; want the authenticated ann (jwt)", store.by)
	}
	for _, c := range []struct {
		name, method, token, body string
		code                      int
		want                      string
	}{
		{"anonymous upload", http.MethodPost, "", good, 403, "authenticated caller"},
		{"anonymous read", http.MethodGet, "", "", 403, "authenticated caller"},
		{"expired token", http.MethodPost, "bad", good, 401, "authentication required"},
		{"duplicate member", http.MethodPost, "ann:eng", strings.Replace(good, `"identity":"npm:x"`, `"identity":"npm:x","identity":"npm:y"`, 1), 400, "duplicate"},
		{"too large", http.MethodPost, "ann:eng", strings.Replace(good, `"name":"a"`, `"name":"`+strings.Repeat("a", 5000)+`"`, 1), 413, "larger than 4096"},
		{"not a reader", http.MethodGet, "ann:eng", "", 403, "inventory_readers"},
		{"reader", http.MethodGet, "sam:sec", "", 200, `"identity":"npm:x"`},
		{"wrong method", http.MethodDelete, "sam:sec", "", 405, "POST"},
	} {
		if code, body := do(c.method, c.token, c.body); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %q; want %d containing %q", c.name, code, body, c.code, c.want)
		}
	}
	if len(store.by) != 1 {
		t.Errorf("%d uploads recorded; the refused ones must not be", len(store.by))
	}
}
