package guard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sync"
	"time"
)

// ExternalRequest is what an external detector receives (HTTP POST body,
// or stdin of the command): one text per call.
type ExternalRequest struct {
	Hook   string `json:"hook"`
	Server string `json:"server"`
	Tool   string `json:"tool"`
	Text   string `json:"text"`
}

// ExternalVerdict is what it answers.
type ExternalVerdict struct {
	Flagged bool     `json:"flagged"`
	Score   float64  `json:"score,omitempty"`
	Labels  []string `json:"labels,omitempty"`
	Reason  string   `json:"reason,omitempty"`
}

// external calls a model-based detector over HTTP or as a command, with a
// timeout, and caches verdicts by content hash.
type external struct {
	spec   *Spec
	client *http.Client
	env    func(string) string

	mu    sync.Mutex
	cache map[[32]byte]ExternalVerdict
}

func newExternal(sp *Spec, env func(string) string) *external {
	return &external{spec: sp, client: &http.Client{}, env: env, cache: map[[32]byte]ExternalVerdict{}}
}

func (e *external) check(ctx context.Context, req *Request, text string, r *Result) error {
	body, err := json.Marshal(ExternalRequest{Hook: req.Hook, Server: req.Server, Tool: req.Tool, Text: text})
	if err != nil {
		return err
	}
	in := ExternalRequest{Hook: req.Hook, Server: req.Server, Tool: req.Tool, Text: text}
	key := sha256.Sum256(body)
	e.mu.Lock()
	v, ok := e.cache[key]
	e.mu.Unlock()
	if !ok {
		ctx, cancel := context.WithTimeout(ctx, e.spec.timeout)
		defer cancel()
		v, err = e.call(ctx, in, body)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("detector %s did not answer within %s", e.spec.Name, e.spec.timeout)
			}
			return fmt.Errorf("detector %s: %w", e.spec.Name, err)
		}
		if e.spec.Cache >= 0 {
			e.mu.Lock()
			if len(e.cache) >= max(e.spec.Cache, 1024) {
				clear(e.cache) // cheap bound; verdicts are recomputable
			}
			e.cache[key] = v
			e.mu.Unlock()
		}
	}
	if v.Flagged {
		msg := v.Reason
		if msg == "" {
			msg = "flagged by the external detector"
		}
		rule := e.spec.Name
		if len(v.Labels) > 0 {
			rule += "." + v.Labels[0]
		}
		r.Findings = append(r.Findings, Finding{Rule: rule, Message: msg, Leaf: -1})
	}
	return nil
}

func (e *external) call(ctx context.Context, in ExternalRequest, body []byte) (ExternalVerdict, error) {
	var out []byte
	pv := providers[e.spec.Provider]
	if pv == nil {
		pv = genericProvider{}
	}
	if e.spec.URL != "" {
		hreq, err := pv.request(ctx, e.spec, e.env, in, body)
		if err != nil {
			return ExternalVerdict{}, err
		}
		resp, err := e.client.Do(hreq)
		if err != nil {
			return ExternalVerdict{}, err
		}
		defer resp.Body.Close()
		out, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return ExternalVerdict{}, err
		}
		if resp.StatusCode != http.StatusOK {
			return ExternalVerdict{}, fmt.Errorf("HTTP %d from %s", resp.StatusCode, e.spec.URL)
		}
		return pv.verdict(out)
	} else {
		cmd := exec.CommandContext(ctx, e.spec.Command[0], e.spec.Command[1:]...)
		cmd.Stdin = bytes.NewReader(body)
		cmd.WaitDelay = 100 * time.Millisecond // a stuck grandchild must not hold the call
		var err error
		out, err = cmd.Output()
		if err != nil {
			return ExternalVerdict{}, fmt.Errorf("command %s: %w", e.spec.Command[0], err)
		}
	}
	var v ExternalVerdict
	if err := json.Unmarshal(out, &v); err != nil {
		return ExternalVerdict{}, fmt.Errorf("answer is not a verdict JSON object: %w", err)
	}
	return v, nil
}
