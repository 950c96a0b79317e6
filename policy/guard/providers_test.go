package guard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// TestProviders runs each provider adapter against a loopback fake of its
// service that checks the request's method, path, credentials and body
// shape (from the providers' public API references) and answers flagged
// for text holding "attack"; a second identical call is served from the
// cache, and a missing credential is an error verdict the mode decides.
func TestProviders(t *testing.T) {
	env := map[string]string{"KEY": "k-123", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret-example"}
	cases := []struct {
		provider, extra string
		check           func(r *http.Request, body map[string]any) (text string, problem string)
		answer          func(flag bool) string
	}{
		{ProviderAzure, `api_key_env = "KEY"`,
			func(r *http.Request, b map[string]any) (string, string) {
				if r.URL.Path != "/contentsafety/text:shieldPrompt" || r.URL.Query().Get("api-version") != "2024-09-01" || r.Header.Get("Ocp-Apim-Subscription-Key") != "k-123" {
					return "", "path, api-version or key"
				}
				p, _ := b["userPrompt"].(string)
				if _, ok := b["documents"].([]any); !ok {
					return "", "no documents array"
				}
				return p, ""
			},
			func(f bool) string {
				return `{"userPromptAnalysis":{"attackDetected":` + boolStr(f) + `},"documentsAnalysis":[]}`
			}},
		{ProviderBedrock, `region = "us-east-1"` + "\n" + `guardrail_id = "gr1"` + "\n" + `guardrail_version = "2"`,
			func(r *http.Request, b map[string]any) (string, string) {
				auth := r.Header.Get("Authorization")
				if r.URL.Path != "/guardrail/gr1/version/2/apply" || !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/us-east-1/bedrock/aws4_request") || r.Header.Get("X-Amz-Date") == "" {
					return "", "path or signature"
				}
				if b["source"] != "INPUT" {
					return "", "source"
				}
				c, _ := b["content"].([]any)
				if len(c) != 1 {
					return "", "content"
				}
				txt, _ := c[0].(map[string]any)["text"].(map[string]any)["text"].(string)
				return txt, ""
			},
			func(f bool) string {
				if f {
					return `{"action":"GUARDRAIL_INTERVENED","outputs":[]}`
				}
				return `{"action":"NONE","outputs":[]}`
			}},
		{ProviderModelArmor, `api_key_env = "KEY"` + "\n" + `template = "projects/p/locations/us-central1/templates/t"`,
			func(r *http.Request, b map[string]any) (string, string) {
				if r.URL.Path != "/v1/projects/p/locations/us-central1/templates/t:sanitizeUserPrompt" || r.Header.Get("Authorization") != "Bearer k-123" {
					return "", "path or token"
				}
				d, _ := b["userPromptData"].(map[string]any)
				txt, _ := d["text"].(string)
				return txt, ""
			},
			func(f bool) string {
				s := "NO_MATCH_FOUND"
				if f {
					s = "MATCH_FOUND"
				}
				return `{"sanitizationResult":{"filterMatchState":"` + s + `"}}`
			}},
		{ProviderLakera, `api_key_env = "KEY"` + "\n" + `project_id = "project-1"`,
			func(r *http.Request, b map[string]any) (string, string) {
				if r.URL.Path != "/v2/guard" || r.Header.Get("Authorization") != "Bearer k-123" || b["project_id"] != "project-1" {
					return "", "path, key or project"
				}
				m, _ := b["messages"].([]any)
				if len(m) != 1 || m[0].(map[string]any)["role"] != "user" {
					return "", "messages"
				}
				txt, _ := m[0].(map[string]any)["content"].(string)
				return txt, ""
			},
			func(f bool) string { return `{"flagged":` + boolStr(f) + `}` }},
		{ProviderOpenAIModer, `model = "prompt-guard"`,
			func(r *http.Request, b map[string]any) (string, string) {
				if r.URL.Path != "/v1/moderations" || b["model"] != "prompt-guard" {
					return "", "path or model"
				}
				txt, _ := b["input"].(string)
				return txt, ""
			},
			func(f bool) string {
				return `{"results":[{"flagged":` + boolStr(f) + `,"categories":{"injection":` + boolStr(f) + `}}]}`
			}},
		// The shape llama.cpp's llama-server, vLLM and Ollama answer on
		// /v1/chat/completions, with Llama Guard 3's verdict as content.
		{ProviderOpenAIChat, `model = "llama-guard3:1b"`,
			func(r *http.Request, b map[string]any) (string, string) {
				if r.URL.Path != "/v1/chat/completions" || b["model"] != "llama-guard3:1b" || b["temperature"] != 0.0 || b["stream"] != false {
					return "", "path, model, temperature or stream"
				}
				m, _ := b["messages"].([]any)
				if len(m) != 1 || m[0].(map[string]any)["role"] != "user" {
					return "", "messages"
				}
				txt, _ := m[0].(map[string]any)["content"].(string)
				return txt, ""
			},
			func(f bool) string {
				content := "safe"
				if f {
					content = `unsafe\nS14` // JSON-escaped line break
				}
				return `{"id":"chatcmpl-1","object":"chat.completion","created":1733540000,"model":"llama-guard3:1b",` +
					`"choices":[{"index":0,"message":{"role":"assistant","content":"` + content + `"},"finish_reason":"stop"}],` +
					`"usage":{"prompt_tokens":210,"completion_tokens":4,"total_tokens":214}}`
			}},
	}
	for _, c := range cases {
		t.Run(c.provider, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				raw, _ := io.ReadAll(r.Body)
				var body map[string]any
				if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(raw, &body) != nil {
					http.Error(w, "want a JSON POST", http.StatusBadRequest)
					return
				}
				text, problem := c.check(r, body)
				if problem != "" {
					t.Errorf("request: %s: %s %s %s", problem, r.URL, r.Header, raw)
					http.Error(w, problem, http.StatusBadRequest)
					return
				}
				_, _ = io.WriteString(w, c.answer(strings.Contains(text, "attack")))
			}))
			defer srv.Close()
			toml := "[guardrails.det]\nkind = \"external\"\nmode = \"enforce\"\nhooks = [\"pre\"]\nprovider = \"" + c.provider + "\"\nurl = \"" + srv.URL + "\"\n" + c.extra + "\n"
			cfg, err := ParseConfig("guardrails.toml", []byte(toml))
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewSet(cfg, Options{Getenv: func(k string) string { return env[k] }})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				rs := s.Run(context.Background(), request(t, HookPre, `{"q":"an attack"}`))
				if rs[0].Verdict != "fail" || !rs[0].Blocks() {
					t.Fatalf("attack: %+v", rs[0])
				}
			}
			if rs := s.Run(context.Background(), request(t, HookPre, `{"q":"fine"}`)); rs[0].Verdict != "pass" {
				t.Errorf("benign: %+v", rs[0])
			}
			if n := calls.Load(); n != 2 {
				t.Errorf("service called %d times, want 2 (the repeat is cached)", n)
			}
			// Without its credential the call is an error, never an
			// unauthenticated request.
			if c.provider != ProviderOpenAIModer && c.provider != ProviderOpenAIChat { // local servers need no key
				s2, _ := NewSet(cfg, Options{Getenv: func(string) string { return "" }})
				if rs := s2.Run(context.Background(), request(t, HookPre, `{"q":"x"}`)); rs[0].Verdict != "error" || !rs[0].Blocks() {
					t.Errorf("no credential: %+v", rs[0])
				}
			}
		})
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestProviderConfigErrors(t *testing.T) {
	for text, want := range map[string]string{
		"[guardrails.d]\nkind = \"external\"\nprovider = \"acme\"\nurl = \"http://127.0.0.1:1\"\n":               `unknown provider "acme"`,
		"[guardrails.d]\nkind = \"external\"\nprovider = \"aws_bedrock\"\nurl = \"http://127.0.0.1:1\"\n":        "needs region, guardrail_id and guardrail_version",
		"[guardrails.d]\nkind = \"external\"\nprovider = \"lakera\"\nurl = \"http://127.0.0.1:1\"\n":             "needs api_key_env",
		"[guardrails.d]\nkind = \"external\"\nprovider = \"google_model_armor\"\nurl = \"http://127.0.0.1:1\"\n": "needs template",
	} {
		if _, err := ParseConfig("guardrails.toml", []byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

// TestClassifierVerdict reads the answers a classifier model gives through
// a chat completion: Llama Guard's "safe" / "unsafe\nS1,S14", a
// one-word label, and text that is neither (an error the mode decides).
// Only category codes become labels, never the model's other words.
func TestClassifierVerdict(t *testing.T) {
	for in, want := range map[string]string{
		"safe":                                   "pass",
		"  Safe\n":                               "pass",
		"BENIGN":                                 "pass",
		"unsafe\nS14":                            "flag unsafe S14",
		"unsafe\nS1,S14":                         "flag unsafe S1 S14",
		"INJECTION":                              "flag injection",
		"unsafe: the text says password hunter2": "flag unsafe",
		"I cannot help with that.":               "error",
		"":                                       "error",
	} {
		v, err := classifierVerdict(in)
		got := "pass"
		switch {
		case err != nil:
			got = "error"
		case v.Flagged:
			got = "flag " + strings.Join(v.Labels, " ")
		}
		if got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

// TestReadmeLocalModelRecipe keeps the README's local model recipe a
// configuration that parses and builds an openai_chat detector.
func TestReadmeLocalModelRecipe(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "[guardrails.local-model]")
	if i < 0 {
		t.Fatal("README has no [guardrails.local-model] recipe")
	}
	block := s[i : i+strings.Index(s[i:], "```")]
	cfg, err := ParseConfig("README.md", []byte(block))
	if err != nil {
		t.Fatal(err)
	}
	if sp := cfg.Guardrails["local-model"]; sp == nil || sp.Provider != ProviderOpenAIChat || sp.Model == "" {
		t.Fatalf("recipe: %+v", sp)
	}
}
