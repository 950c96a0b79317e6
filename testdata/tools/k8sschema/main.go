// Command k8sschema writes the JSON schemas kubeconform validates the
// Kubernetes manifests in shim/gateway/deploy against, offline: it reads
// the OpenAPI v3 documents that ship inside the k8s.io/kubernetes module
// (api/openapi-spec/v3, fetched from the Go module proxy by make) and
// writes one standalone, strict schema per kind, named as kubeconform's
// -schema-location template {{.ResourceKind}}{{.KindSuffix}}{{.StrictSuffix}}
// expects (deployment-apps-v1-strict.json, service-v1-strict.json).
//
// Strict means what kubeconform's published "-strict" schemas mean: every
// object that lists its properties allows no others, so a misspelt field
// is an error instead of being ignored.
//
// Usage: go run ./testdata/tools/k8sschema SPECDIR OUTDIR
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const refPrefix = "#/components/schemas/"

type gvk struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: k8sschema SPECDIR OUTDIR")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "k8sschema: error:", err)
		os.Exit(1)
	}
}

func run(specDir, out string) error {
	files, err := filepath.Glob(filepath.Join(specDir, "*__*_openapi.json"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no OpenAPI v3 documents (*__VERSION_openapi.json) in %s", specDir)
	}
	files = append(files, filepath.Join(specDir, "api__v1_openapi.json"))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var doc struct {
			Components struct {
				Schemas map[string]map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		all := doc.Components.Schemas
		for name, s := range all {
			kinds, _ := s["x-kubernetes-group-version-kind"].([]any)
			if len(kinds) != 1 || !strings.HasPrefix(name, "io.k8s.api.") {
				continue
			}
			raw, _ := json.Marshal(kinds[0])
			var k gvk
			if json.Unmarshal(raw, &k) != nil || k.Kind == "" {
				continue
			}
			if _, hasKind := propsOf(s)["kind"]; !hasKind {
				continue
			}
			schema := standalone(all, name, k)
			suffix := "-" + strings.ToLower(k.Version)
			if k.Group != "" {
				suffix = "-" + strings.ToLower(strings.Split(k.Group, ".")[0]) + suffix
			}
			body, err := json.Marshal(schema)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(out, strings.ToLower(k.Kind)+suffix+"-strict.json"), body, 0o644); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no kinds found in %s", specDir)
	}
	fmt.Printf("k8sschema: wrote %d schemas to %s\n", n, out)
	return nil
}

func propsOf(s map[string]any) map[string]any {
	p, _ := s["properties"].(map[string]any)
	return p
}

// standalone is the schema of one kind with every schema it reaches under
// definitions, refs pointing there, objects closed, and apiVersion and
// kind pinned.
func standalone(all map[string]map[string]any, name string, k gvk) map[string]any {
	defs := map[string]any{}
	var visit func(v any) any
	visit = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for key, val := range v {
				if _, text := val.(string); strings.HasPrefix(key, "x-kubernetes-") || key == "description" && text {
					continue // annotations, not constraints (a property named description is a map)
				}
				if key == "$ref" {
					ref, _ := val.(string)
					target := strings.TrimPrefix(ref, refPrefix)
					if _, done := defs[target]; !done {
						defs[target] = true // placeholder: breaks cycles
						defs[target] = visit(all[target])
					}
					out[key] = "#/definitions/" + target
					continue
				}
				out[key] = visit(val)
			}
			if _, ok := out["properties"]; ok {
				if _, set := out["additionalProperties"]; !set {
					out["additionalProperties"] = false
				}
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = visit(e)
			}
			return out
		}
		return v
	}
	root := visit(all[name]).(map[string]any)
	props := root["properties"].(map[string]any)
	apiVersion := k.Version
	if k.Group != "" {
		apiVersion = k.Group + "/" + k.Version
	}
	props["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
	props["kind"] = map[string]any{"type": "string", "enum": []any{k.Kind}}
	root["required"] = appendMissing(root["required"], "apiVersion", "kind")
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["definitions"] = defs
	return root
}

func appendMissing(req any, names ...string) []any {
	out, _ := req.([]any)
	for _, n := range names {
		found := false
		for _, r := range out {
			found = found || r == n
		}
		if !found {
			out = append(out, n)
		}
	}
	return out
}
