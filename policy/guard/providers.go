package guard

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Providers of an external guardrail: the wire format it speaks. Each is
// written from the provider's public API reference; the tests run each
// against a loopback fake that checks the request's shape.
const (
	ProviderGeneric     = "generic"              // mcpgov's own {"hook","server","tool","text"} → {"flagged",…}
	ProviderAzure       = "azure_prompt_shields" // Azure AI Content Safety, text:shieldPrompt
	ProviderBedrock     = "aws_bedrock"          // AWS Bedrock Guardrails, ApplyGuardrail
	ProviderModelArmor  = "google_model_armor"   // Google Model Armor, sanitizeUserPrompt / sanitizeModelResponse
	ProviderLakera      = "lakera"               // Lakera Guard, /v2/guard
	ProviderOpenAIModer = "openai_moderation"    // an OpenAI-compatible /v1/moderations classifier
	ProviderOpenAIChat  = "openai_chat"          // a classifier model behind an OpenAI-compatible /v1/chat/completions (Llama Guard on llama.cpp, vLLM, Ollama)
)

// Providers lists the providers in the order documented.
var Providers = []string{ProviderGeneric, ProviderAzure, ProviderBedrock, ProviderModelArmor, ProviderLakera, ProviderOpenAIModer, ProviderOpenAIChat}

// provider builds one HTTP request for a text and reads the verdict.
type provider interface {
	request(ctx context.Context, sp *Spec, env func(string) string, in ExternalRequest, body []byte) (*http.Request, error)
	verdict(out []byte) (ExternalVerdict, error)
}

var providers = map[string]provider{
	ProviderGeneric:     genericProvider{},
	ProviderAzure:       azureProvider{},
	ProviderBedrock:     bedrockProvider{now: time.Now},
	ProviderModelArmor:  modelArmorProvider{},
	ProviderLakera:      lakeraProvider{},
	ProviderOpenAIModer: moderationProvider{},
	ProviderOpenAIChat:  chatProvider{},
}

func postJSON(ctx context.Context, u string, v any) (*http.Request, []byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, b, nil
}

// apiKey reads the credential named by api_key_env; an unset variable is
// an error (the mode decides), not an unauthenticated call.
func apiKey(sp *Spec, env func(string) string) (string, error) {
	if sp.APIKeyEnv == "" {
		return "", nil
	}
	v := ""
	if env != nil {
		v = env(sp.APIKeyEnv)
	}
	if v == "" {
		return "", fmt.Errorf("environment variable %s (api_key_env) is not set", sp.APIKeyEnv)
	}
	return v, nil
}

type genericProvider struct{}

func (genericProvider) request(ctx context.Context, sp *Spec, env func(string) string, _ ExternalRequest, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sp.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if k, err := apiKey(sp, env); err != nil {
		return nil, err
	} else if k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	return req, nil
}

func (genericProvider) verdict(out []byte) (ExternalVerdict, error) {
	var v ExternalVerdict
	if err := json.Unmarshal(out, &v); err != nil {
		return v, fmt.Errorf("answer is not a verdict JSON object: %w", err)
	}
	return v, nil
}

// azureProvider: POST {url}/contentsafety/text:shieldPrompt?api-version=2024-09-01
// with Ocp-Apim-Subscription-Key; arguments go as the userPrompt (a user
// prompt attack), results and descriptions as a document (an indirect,
// document attack).
type azureProvider struct{}

func (azureProvider) request(ctx context.Context, sp *Spec, env func(string) string, in ExternalRequest, _ []byte) (*http.Request, error) {
	k, err := apiKey(sp, env)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"userPrompt": "", "documents": []string{}}
	if in.Hook == HookPre {
		body["userPrompt"] = in.Text
	} else {
		body["documents"] = []string{in.Text}
	}
	req, _, err := postJSON(ctx, strings.TrimRight(sp.URL, "/")+"/contentsafety/text:shieldPrompt?api-version=2024-09-01", body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Ocp-Apim-Subscription-Key", k)
	return req, nil
}

func (azureProvider) verdict(out []byte) (ExternalVerdict, error) {
	var r struct {
		UserPromptAnalysis *struct {
			AttackDetected bool `json:"attackDetected"`
		} `json:"userPromptAnalysis"`
		DocumentsAnalysis []struct {
			AttackDetected bool `json:"attackDetected"`
		} `json:"documentsAnalysis"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return ExternalVerdict{}, fmt.Errorf("read the Prompt Shields answer: %w", err)
	}
	if r.UserPromptAnalysis != nil && r.UserPromptAnalysis.AttackDetected {
		return ExternalVerdict{Flagged: true, Labels: []string{"user-prompt-attack"}, Reason: "Azure Prompt Shields detected a user prompt attack"}, nil
	}
	for _, d := range r.DocumentsAnalysis {
		if d.AttackDetected {
			return ExternalVerdict{Flagged: true, Labels: []string{"document-attack"}, Reason: "Azure Prompt Shields detected a document attack"}, nil
		}
	}
	return ExternalVerdict{}, nil
}

// bedrockProvider: POST {url}/guardrail/{id}/version/{version}/apply,
// signed with AWS Signature Version 4 from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; source INPUT for
// arguments, OUTPUT for results.
type bedrockProvider struct{ now func() time.Time }

func (p bedrockProvider) request(ctx context.Context, sp *Spec, env func(string) string, in ExternalRequest, _ []byte) (*http.Request, error) {
	get := func(k string) string {
		if env == nil {
			return ""
		}
		return env(k)
	}
	ak, sk := get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")
	if ak == "" || sk == "" {
		return nil, fmt.Errorf("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set for %s", ProviderBedrock)
	}
	source := "OUTPUT"
	if in.Hook == HookPre {
		source = "INPUT"
	}
	body := map[string]any{"source": source, "content": []any{map[string]any{"text": map[string]string{"text": in.Text}}}}
	u := strings.TrimRight(sp.URL, "/") + "/guardrail/" + url.PathEscape(sp.GuardrailID) + "/version/" + url.PathEscape(sp.GuardrailVersion) + "/apply"
	req, b, err := postJSON(ctx, u, body)
	if err != nil {
		return nil, err
	}
	sigV4(req, b, ak, sk, get("AWS_SESSION_TOKEN"), sp.Region, "bedrock", p.now().UTC())
	return req, nil
}

func (bedrockProvider) verdict(out []byte) (ExternalVerdict, error) {
	var r struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return ExternalVerdict{}, fmt.Errorf("ApplyGuardrail answer: %w", err)
	}
	if r.Action == "GUARDRAIL_INTERVENED" {
		return ExternalVerdict{Flagged: true, Labels: []string{"intervened"}, Reason: "AWS Bedrock Guardrails intervened"}, nil
	}
	return ExternalVerdict{}, nil
}

// sigV4 signs req (AWS Signature Version 4, a single-chunk payload).
func sigV4(req *http.Request, body []byte, ak, sk, token, region, service string, t time.Time) {
	amzDate := t.Format("20060102T150405Z")
	day := t.Format("20060102")
	ph := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(ph[:])
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if token != "" {
		req.Header.Set("X-Amz-Security-Token", token)
	}
	headers := map[string]string{"host": req.URL.Host, "content-type": req.Header.Get("Content-Type"), "x-amz-date": amzDate, "x-amz-content-sha256": payloadHash}
	if token != "" {
		headers["x-amz-security-token"] = token
	}
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	var canonHeaders strings.Builder
	for _, k := range names {
		canonHeaders.WriteString(k + ":" + strings.TrimSpace(headers[k]) + "\n")
	}
	signed := strings.Join(names, ";")
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon := strings.Join([]string{req.Method, path, req.URL.RawQuery, canonHeaders.String(), signed, payloadHash}, "\n")
	ch := sha256.Sum256([]byte(canon))
	scope := day + "/" + region + "/" + service + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	key := mac(mac(mac(mac([]byte("AWS4"+sk), day), region), service), "aws4_request")
	sig := hex.EncodeToString(mac(key, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+ak+"/"+scope+", SignedHeaders="+signed+", Signature="+sig)
}

// modelArmorProvider: POST {url}/v1/{template}:sanitizeUserPrompt (or
// :sanitizeModelResponse for results) with an OAuth access token.
type modelArmorProvider struct{}

func (modelArmorProvider) request(ctx context.Context, sp *Spec, env func(string) string, in ExternalRequest, _ []byte) (*http.Request, error) {
	k, err := apiKey(sp, env)
	if err != nil {
		return nil, err
	}
	method, body := ":sanitizeModelResponse", map[string]any{"modelResponseData": map[string]string{"text": in.Text}}
	if in.Hook == HookPre {
		method, body = ":sanitizeUserPrompt", map[string]any{"userPromptData": map[string]string{"text": in.Text}}
	}
	req, _, err := postJSON(ctx, strings.TrimRight(sp.URL, "/")+"/v1/"+sp.Template+method, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k)
	return req, nil
}

func (modelArmorProvider) verdict(out []byte) (ExternalVerdict, error) {
	var r struct {
		SanitizationResult struct {
			FilterMatchState string `json:"filterMatchState"`
		} `json:"sanitizationResult"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return ExternalVerdict{}, fmt.Errorf("read the Model Armor answer: %w", err)
	}
	if r.SanitizationResult.FilterMatchState == "MATCH_FOUND" {
		return ExternalVerdict{Flagged: true, Labels: []string{"match-found"}, Reason: "Google Model Armor found a match"}, nil
	}
	return ExternalVerdict{}, nil
}

// lakeraProvider: POST {url}/v2/guard with a Bearer key; arguments are a
// user message, results and descriptions a tool message.
type lakeraProvider struct{}

func (lakeraProvider) request(ctx context.Context, sp *Spec, env func(string) string, in ExternalRequest, _ []byte) (*http.Request, error) {
	k, err := apiKey(sp, env)
	if err != nil {
		return nil, err
	}
	role := "tool"
	if in.Hook == HookPre {
		role = "user"
	}
	body := map[string]any{"messages": []map[string]string{{"role": role, "content": in.Text}}}
	if sp.ProjectID != "" {
		body["project_id"] = sp.ProjectID
	}
	req, _, err := postJSON(ctx, strings.TrimRight(sp.URL, "/")+"/v2/guard", body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k)
	return req, nil
}

func (lakeraProvider) verdict(out []byte) (ExternalVerdict, error) {
	var r struct {
		Flagged *bool `json:"flagged"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Flagged == nil {
		return ExternalVerdict{}, fmt.Errorf("the Lakera Guard answer has no flagged field")
	}
	if *r.Flagged {
		return ExternalVerdict{Flagged: true, Labels: []string{"flagged"}, Reason: "Lakera Guard flagged the text"}, nil
	}
	return ExternalVerdict{}, nil
}

// moderationProvider: POST {url}/v1/moderations {"model","input"}, the
// OpenAI moderation shape that local classifier servers also speak.
type moderationProvider struct{}

func (moderationProvider) request(ctx context.Context, sp *Spec, env func(string) string, in ExternalRequest, _ []byte) (*http.Request, error) {
	k, err := apiKey(sp, env)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"input": in.Text}
	if sp.Model != "" {
		body["model"] = sp.Model
	}
	req, _, err := postJSON(ctx, strings.TrimRight(sp.URL, "/")+"/v1/moderations", body)
	if err != nil {
		return nil, err
	}
	if k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	return req, nil
}

func (moderationProvider) verdict(out []byte) (ExternalVerdict, error) {
	var r struct {
		Results []struct {
			Flagged    bool            `json:"flagged"`
			Categories map[string]bool `json:"categories"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &r); err != nil || len(r.Results) == 0 {
		return ExternalVerdict{}, fmt.Errorf("moderation answer has no results")
	}
	res := r.Results[0]
	if !res.Flagged {
		return ExternalVerdict{}, nil
	}
	var labels []string
	for c, on := range res.Categories {
		if on {
			labels = append(labels, c)
		}
	}
	sort.Strings(labels)
	return ExternalVerdict{Flagged: true, Labels: labels, Reason: "the classifier flagged the text"}, nil
}

// chatProvider: POST {url}/v1/chat/completions with the text as the one
// user message, {"model","messages","temperature":0,"max_tokens":16,
// "stream":false}, the endpoint local model servers share (llama.cpp's
// llama-server, vLLM's OpenAI-compatible server, Ollama). It is meant for
// a classifier model that answers with a verdict word, as Llama Guard
// does: "safe", or "unsafe" and a line of category codes ("S14"). The
// model's chat template wraps the text in its own classification prompt,
// so the server must run the model with that template (the GGUF's or
// the model card's). The first word decides: unsafe, injection,
// jailbreak, malicious, flagged or yes flag the text; safe, benign, clean
// or no pass it; anything else is an error the mode decides.
type chatProvider struct{}

func (chatProvider) request(ctx context.Context, sp *Spec, env func(string) string, in ExternalRequest, _ []byte) (*http.Request, error) {
	k, err := apiKey(sp, env)
	if err != nil {
		return nil, err
	}
	body := map[string]any{
		"messages":    []map[string]string{{"role": "user", "content": in.Text}},
		"temperature": 0,
		"max_tokens":  16,
		"stream":      false,
	}
	if sp.Model != "" {
		body["model"] = sp.Model
	}
	req, _, err := postJSON(ctx, strings.TrimRight(sp.URL, "/")+"/v1/chat/completions", body)
	if err != nil {
		return nil, err
	}
	if k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	return req, nil
}

func (chatProvider) verdict(out []byte) (ExternalVerdict, error) {
	var r struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(out, &r); err != nil || len(r.Choices) == 0 {
		return ExternalVerdict{}, fmt.Errorf("chat completion answer has no choices")
	}
	return classifierVerdict(r.Choices[0].Message.Content)
}

// classifierVerdict reads a classifier model's answer: a verdict word,
// then optionally category codes on the same or the next lines.
func classifierVerdict(content string) (ExternalVerdict, error) {
	f := strings.FieldsFunc(strings.ToLower(content), func(r rune) bool {
		return r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == ',' || r == ':' || r == '.'
	})
	if len(f) == 0 {
		return ExternalVerdict{}, fmt.Errorf("the classifier answered nothing")
	}
	switch f[0] {
	case "safe", "benign", "clean", "no":
		return ExternalVerdict{}, nil
	case "unsafe", "injection", "jailbreak", "malicious", "flagged", "yes":
		labels := []string{f[0]}
		// Only category codes ("S14") are kept: the rest of the answer is
		// the model's text and may quote the input.
		for _, w := range f[1:] {
			if len(w) >= 2 && len(w) <= 3 && w[0] == 's' && strings.Trim(w[1:], "0123456789") == "" && len(labels) < 8 {
				labels = append(labels, strings.ToUpper(w))
			}
		}
		return ExternalVerdict{Flagged: true, Labels: labels, Reason: "the classifier model answered " + f[0]}, nil
	}
	return ExternalVerdict{}, fmt.Errorf("the classifier answered neither safe nor unsafe")
}
