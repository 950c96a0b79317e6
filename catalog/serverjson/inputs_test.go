package serverjson

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/catalog"
)

func importOne(t *testing.T, doc string) *catalog.Server {
	t.Helper()
	imps, err := Import([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s := imps[0].Server
	s.Registry = imps[0].Registry
	return s
}

// TestInstallPlanServerJSON: the inputs of the launched package, and the
// launch with the user's values in place (argument order kept).
func TestInstallPlanServerJSON(t *testing.T) {
	raw, err := os.ReadFile("testdata/serverjson/github.json")
	if err != nil {
		t.Fatal(err)
	}
	s := importOne(t, string(raw))
	p, err := PlanInstall(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Inputs) != 1 || p.Inputs[0].Key != "GITHUB_PERSONAL_ACCESS_TOKEN" || !p.Inputs[0].Secret || !p.Inputs[0].Required || p.Inputs[0].Kind != InputEnv {
		t.Fatalf("npm inputs: %+v", p.Inputs)
	}
	l, err := p.Launch(func(in Input) (string, bool) { return "${" + in.Env + "}", true })
	if err != nil {
		t.Fatal(err)
	}
	if l.Command != "npx" || !reflect.DeepEqual(l.Args, []string{"-y", "@modelcontextprotocol/server-github@2025.4.8"}) ||
		!reflect.DeepEqual(l.Env, []EnvValue{{"GITHUB_PERSONAL_ACCESS_TOKEN", "${GITHUB_PERSONAL_ACCESS_TOKEN}"}}) {
		t.Errorf("npm launch: %+v", l)
	}
	_, err = p.Launch(func(Input) (string, bool) { return "", false })
	var missing *MissingInputError
	if !errors.As(err, &missing) || missing.Keys[0] != "GITHUB_PERSONAL_ACCESS_TOKEN" {
		t.Errorf("missing: %v", err)
	}

	// Only the OCI package: a named argument, an env default, docker -e.
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["packages"] = doc["packages"].([]any)[1:]
	oci, _ := json.Marshal(doc)
	s = importOne(t, string(oci))
	if s.Launch.Command != "docker" {
		t.Fatalf("launch %+v", s.Launch)
	}
	p, err = PlanInstall(s)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, in := range p.Inputs {
		keys = append(keys, in.Key)
	}
	if !reflect.DeepEqual(keys, []string{"GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_HOST", "toolsets"}) || p.Input("--toolsets").Default != "repos,issues,pull_requests" {
		t.Fatalf("oci inputs: %+v", p.Inputs)
	}
	l, err = p.Launch(func(in Input) (string, bool) {
		switch in.Key {
		case "toolsets":
			return "actions", true
		case "GITHUB_PERSONAL_ACCESS_TOKEN":
			return "ghp_x", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"run", "-i", "--rm", "--pull", "missing", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "-e", "GITHUB_HOST", "ghcr.io/github/github-mcp-server:0.26.3", "stdio", "--toolsets", "actions"}
	if !reflect.DeepEqual(l.Args, want) || len(l.Env) != 1 {
		t.Errorf("oci launch: %q env %v", l.Args, l.Env)
	}
}

// TestInstallPlanLaunchEnv: without a server.json, launch.env names the
// inputs; names that look like credentials are secret.
func TestInstallPlanLaunchEnv(t *testing.T) {
	s := &catalog.Server{ID: "x", Status: catalog.StatusApproved, Launch: catalog.Launch{Command: "srv", Args: []string{"a"}, Env: []string{"API_TOKEN", "REGION"}}}
	p, err := PlanInstall(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Inputs) != 2 || !p.Inputs[0].Secret || p.Inputs[1].Secret || !p.Inputs[1].Required {
		t.Fatalf("inputs %+v", p.Inputs)
	}
	l, err := p.Launch(func(in Input) (string, bool) { return strings.ToLower(in.Key), true })
	if err != nil || !reflect.DeepEqual(l.Env, []EnvValue{{"API_TOKEN", "api_token"}, {"REGION", "region"}}) || l.Command != "srv" {
		t.Errorf("launch %+v %v", l, err)
	}
}

// TestAssessRisk: the reviewer's tier wins; otherwise data scope, tool
// rules and vetting decide, and the basis says so.
func TestAssessRisk(t *testing.T) {
	s := &catalog.Server{DataScope: []string{"customer-records"}}
	a := s.AssessRisk()
	if a.Level != catalog.RiskCritical || a.Source != "derived" || !strings.Contains(strings.Join(a.Basis, "; "), "never vetted") {
		t.Errorf("%+v", a)
	}
	s = &catalog.Server{DataScope: []string{"docs"}, Tools: catalog.ToolRules{Allow: []string{"search*"}}, Review: &catalog.Review{Reviewer: "sec"}}
	if a := s.AssessRisk(); a.Level != catalog.RiskMedium {
		t.Errorf("%+v", a)
	}
	s.Risk = catalog.RiskLow
	if a := s.AssessRisk(); a.Level != catalog.RiskLow || a.Source != "reviewer" {
		t.Errorf("%+v", a)
	}
}
