package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
)

// A checkpoint signed with a key in the store proves nothing against whoever
// can write the store: they can delete the newest records with their
// checkpoint, or rewrite the history and sign it again. A witness keeps
// copies of the checkpoints where the store's owner cannot rewrite them (an
// append-only file, the central gateway, a WORM bucket), and Verify compares
// the local chain with what the witness holds.

// Witness keeps a store's signed checkpoints off the machine, or at least
// out of reach of the store's owner.
type Witness interface {
	// Submit hands the witness one checkpoint. Sending the same entry
	// again must be harmless: delivery is at least once.
	Submit(ctx context.Context, e WitnessEntry) error
	// Checkpoints returns every checkpoint the witness holds for the
	// store, in the order it received them (none: an empty slice).
	Checkpoints(ctx context.Context, store string) ([]WitnessEntry, error)
	// String names the witness (a path or URL) for messages.
	String() string
}

// WitnessEntry is one checkpoint as a witness receives and keeps it: the
// store it belongs to, the verifier key of the key that signed it, and the
// signed note exactly as stored in checkpoints.log.
type WitnessEntry struct {
	Store string `json:"store"`
	Key   string `json:"key"`
	Note  string `json:"note"`
}

// Compile-time interface guards.
var (
	_ Witness = (*FileWitness)(nil)
	_ Witness = (*HTTPWitness)(nil)
)

// NewWitness returns the witness a setting names: an http(s) URL is an
// HTTPWitness, anything else a FileWitness path. Plain http is accepted
// only for loopback addresses: a witness read over a network that anyone
// can tamper with vouches for nothing.
func NewWitness(spec string) (Witness, error) {
	if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
		u, err := url.Parse(spec)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("invalid witness URL %q", spec)
		}
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("witness URL %s: use https (plain http is allowed for loopback addresses only)", spec)
		}
		return &HTTPWitness{URL: spec}, nil
	}
	if spec == "" {
		return nil, errors.New("empty witness setting")
	}
	return &FileWitness{Path: spec}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FileWitness appends checkpoints to a JSONL file: Path itself, or, when
// Path is a directory, Path/STORE.jsonl. It is a witness only when the
// store's owner can append to the file but not rewrite it: chattr +a on
// Linux, chflags sappnd on macOS, a WORM mount, a share written through a
// service. Each line is one WitnessEntry.
type FileWitness struct {
	Path string
}

func (w *FileWitness) String() string { return w.Path }

func (w *FileWitness) file(store string) (string, error) {
	if err := validStoreID(store); err != nil {
		return "", err
	}
	if fi, err := os.Stat(w.Path); err == nil && fi.IsDir() {
		return filepath.Join(w.Path, store+".jsonl"), nil
	}
	return w.Path, nil
}

// Submit appends e as one line. Concurrent writers share the file safely:
// each line is one O_APPEND write, far below a page.
func (w *FileWitness) Submit(_ context.Context, e WitnessEntry) error {
	path, err := w.file(e.Store)
	if err != nil {
		return err
	}
	line, err := jsonv2.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open witness file: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("append to witness file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync witness file %s: %w", path, err)
	}
	return f.Close()
}

// Checkpoints reads the entries of store. A line that is not exactly a
// WitnessEntry (unknown or duplicate members, a torn last line) is
// skipped: anyone who may append could have written it, and a line the
// witness cannot read vouches for nothing. Verify still checks the
// signature of every entry it uses.
func (w *FileWitness) Checkpoints(_ context.Context, store string) ([]WitnessEntry, error) {
	path, err := w.file(store)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return []WitnessEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read witness file: %w", err)
	}
	out := []WitnessEntry{}
	for line := range bytes.Lines(b) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			break
		}
		e, err := decodeWitnessEntry(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil || e.Store != store {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// HTTPWitness sends checkpoints to a URL: POST URL with one WitnessEntry as
// the JSON body (any 2xx accepts it), and GET URL?store=ID answering
// {"schemaVersion":1,"checkpoints":[WitnessEntry…]} (404: none). The
// central gateway and the object-store sink implement the same two calls;
// WitnessHandler serves them over any Witness.
type HTTPWitness struct {
	URL    string
	Header http.Header  // sent with every request (authorization)
	Client *http.Client // default http.DefaultClient
}

func (w *HTTPWitness) String() string { return w.URL }

func (w *HTTPWitness) client() *http.Client {
	if w.Client != nil {
		return w.Client
	}
	return http.DefaultClient
}

// Submit posts e; only a 2xx answer counts as witnessed.
func (w *HTTPWitness) Submit(ctx context.Context, e WitnessEntry) error {
	body, err := jsonv2.Marshal(e)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = w.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("witness %s answered %s: %s", w.URL, resp.Status, strings.TrimSpace(string(msg)))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

// maxWitnessResponse bounds what Checkpoints reads from a witness.
const maxWitnessResponse = 64 << 20

// witnessList is the GET answer.
type witnessList struct {
	SchemaVersion int            `json:"schemaVersion"`
	Checkpoints   []WitnessEntry `json:"checkpoints"`
}

// Checkpoints asks the witness for store's checkpoints. The answer is
// decoded with exact member names: a document with unknown or duplicate
// members is an error, not a partial answer.
func (w *HTTPWitness) Checkpoints(ctx context.Context, store string) ([]WitnessEntry, error) {
	if err := validStoreID(store); err != nil {
		return nil, err
	}
	u, err := url.Parse(w.URL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("store", store)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header = w.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := w.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return []WitnessEntry{}, nil
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("witness %s answered %s: %s", w.URL, resp.Status, strings.TrimSpace(string(msg)))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWitnessResponse+1))
	if err != nil {
		return nil, fmt.Errorf("read witness %s: %w", w.URL, err)
	}
	if len(body) > maxWitnessResponse {
		return nil, fmt.Errorf("witness %s: answer larger than %d MiB", w.URL, maxWitnessResponse>>20)
	}
	var list witnessList
	if err := decodeExact(body, &list); err != nil {
		return nil, fmt.Errorf("witness %s: %w", w.URL, err)
	}
	if list.SchemaVersion != 1 {
		return nil, fmt.Errorf("witness %s: schemaVersion %d, want 1", w.URL, list.SchemaVersion)
	}
	out := make([]WitnessEntry, 0, len(list.Checkpoints))
	for i, e := range list.Checkpoints {
		if e.Store != store {
			return nil, fmt.Errorf("witness %s: checkpoint %d belongs to store %q, not %q", w.URL, i, e.Store, store)
		}
		out = append(out, e)
	}
	return out, nil
}

// WitnessHandler serves the HTTPWitness protocol over w: POST stores an
// entry whose note verifies under its own key, GET ?store=ID lists them.
// It is the reference for the gateway's endpoint and what tests run.
func WitnessHandler(w Witness) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
			if err != nil {
				http.Error(rw, err.Error(), http.StatusBadRequest)
				return
			}
			e, err := decodeWitnessEntry(body)
			if err == nil {
				err = validStoreID(e.Store)
			}
			if err == nil {
				_, err = openCheckpointNote(e.Note, e.Key)
			}
			if err != nil {
				http.Error(rw, "not a checkpoint: "+err.Error(), http.StatusBadRequest)
				return
			}
			if err := w.Submit(r.Context(), e); err != nil {
				http.Error(rw, err.Error(), http.StatusInternalServerError)
				return
			}
			rw.WriteHeader(http.StatusNoContent)
		case http.MethodGet:
			store := r.URL.Query().Get("store")
			if err := validStoreID(store); err != nil {
				http.Error(rw, err.Error(), http.StatusBadRequest)
				return
			}
			cps, err := w.Checkpoints(r.Context(), store)
			if err != nil {
				http.Error(rw, err.Error(), http.StatusInternalServerError)
				return
			}
			b, err := jsonv2.Marshal(witnessList{SchemaVersion: 1, Checkpoints: cps})
			if err != nil {
				http.Error(rw, err.Error(), http.StatusInternalServerError)
				return
			}
			rw.Header().Set("Content-Type", "application/json")
			_, _ = rw.Write(b)
		default:
			rw.Header().Set("Allow", "GET, POST")
			http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// decodeExact decodes untrusted JSON: member names match exactly (case
// included), unknown and duplicate members are errors.
func decodeExact(b []byte, v any) error {
	return jsonv2.Unmarshal(b, v, jsonv2.RejectUnknownMembers(true))
}

func decodeWitnessEntry(b []byte) (WitnessEntry, error) {
	var e WitnessEntry
	if err := decodeExact(b, &e); err != nil {
		return e, err
	}
	if e.Store == "" || e.Key == "" || e.Note == "" {
		return e, errors.New("witness entry needs store, key and note")
	}
	return e, nil
}

// storeIDName holds the store's random identity: what witnesses file its
// checkpoints under.
const storeIDName = "store.id"

// StoreID returns the identity of the store in dir ("" when it has none:
// it was never opened by a writer that knew of witnesses).
func StoreID(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, storeIDName))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read store id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if err := validStoreID(id); err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(dir, storeIDName), err)
	}
	return id, nil
}

// loadOrCreateStoreID reads the store's identity, creating it on first
// use. Callers hold the store lock.
func loadOrCreateStoreID(dir string) (string, error) {
	id, err := StoreID(dir)
	if err != nil || id != "" {
		return id, err
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id = hex.EncodeToString(b[:])
	if err := writeFileSync(filepath.Join(dir, storeIDName), []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("create store id: %w", err)
	}
	return id, nil
}

func validStoreID(id string) error {
	if len(id) != 32 {
		return fmt.Errorf("invalid store id %q: want 32 hex digits", id)
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return fmt.Errorf("invalid store id %q: want 32 lowercase hex digits", id)
	}
	return nil
}
