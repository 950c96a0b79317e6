package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// deployDir holds the deployment files (top-level folders are fixed, so
// they live beside the gateway).
var deployDir = filepath.Join("..", "..", "shim", "gateway", "deploy")

// kubeconform runs kubeconform -strict with the offline schemas make
// generates (MCPGOV_K8S_SCHEMAS) on files.
func kubeconform(t *testing.T, files ...string) (string, error) {
	t.Helper()
	schemas := os.Getenv("MCPGOV_K8S_SCHEMAS")
	ok, err := haveProgram("kubeconform")
	if err == nil && ok && schemas == "" && os.Getenv("MCPGOV_E2E") != "" {
		err = errString("MCPGOV_K8S_SCHEMAS is not set but MCPGOV_E2E is; run make test (make e2e-deps generates the schemas)")
	}
	if err != nil {
		t.Fatal(err)
	}
	if !ok || schemas == "" {
		t.Skip("kubeconform or its schemas not installed (make e2e-deps; MCPGOV_K8S_SCHEMAS)")
	}
	args := append([]string{"-strict", "-summary", "-schema-location", filepath.Join(schemas, "{{.ResourceKind}}{{.KindSuffix}}{{.StrictSuffix}}.json")}, files...)
	out, err := exec.Command("kubeconform", args...).CombinedOutput()
	return string(out), err
}

type errString string

func (e errString) Error() string { return string(e) }

// TestDeployKubernetes validates the Kubernetes manifests against the
// Kubernetes API's schemas, offline and strict; the same manifest with a
// misspelt field or a wrong type is refused, so the check is not vacuous;
// and each container's arguments are ones mcpgov accepts.
func TestDeployKubernetes(t *testing.T) {
	manifests, _ := filepath.Glob(filepath.Join(deployDir, "kubernetes", "*.yaml"))
	if len(manifests) == 0 {
		t.Fatal("no manifests in shim/gateway/deploy/kubernetes")
	}
	out, err := kubeconform(t, manifests...)
	if err != nil || !strings.Contains(out, "Invalid: 0, Errors: 0, Skipped: 0") {
		t.Fatalf("kubeconform: %v\n%s", err, out)
	}
	orig, err := os.ReadFile(manifests[0])
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		"misspelt field": {"readinessProbe:", "readinesProbe:"},
		"wrong type":     {"replicas: 3", "replicas: three"},
		"wrong kind":     {"kind: PodDisruptionBudget", "kind: PodDisruptionBudgit"},
	} {
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		if !bytes.Contains(orig, []byte(edit[0])) {
			t.Fatalf("%s: %q not in the manifest", name, edit[0])
		}
		os.WriteFile(bad, bytes.Replace(orig, []byte(edit[0]), []byte(edit[1]), 1), 0o644)
		if out, err := kubeconform(t, bad); err == nil {
			t.Errorf("%s: kubeconform accepted it\n%s", name, out)
		}
	}

	// Each container's command line parses: mcpgov checks flags before
	// it acts on --help.
	dec := yaml.NewDecoder(bytes.NewReader(orig))
	containers := 0
	for {
		var doc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name string   `yaml:"name"`
							Args []string `yaml:"args"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if dec.Decode(&doc) != nil {
			break
		}
		for _, c := range doc.Spec.Template.Spec.Containers {
			containers++
			args := make([]string, len(c.Args))
			for i, a := range c.Args {
				args[i] = regexp.MustCompile(`\$\(POD_NAME\)`).ReplaceAllString(a, "mcpgov-gateway-0")
				args[i] = strings.ReplaceAll(args[i], "$(MCPGOV_AUDIT_BUCKET)", "s3://audit-lake/mcpgov")
			}
			if _, errOut, code := mcpgovRun(t, append(args, "--help")...); code != 0 {
				t.Errorf("container %s: mcpgov %s: exit %d\n%s", c.Name, strings.Join(args, " "), code, errOut)
			}
		}
	}
	if containers != 2 {
		t.Fatalf("found %d containers, want the gateway and its audit shipper", containers)
	}
}

// TestDeploySystemd checks the systemd units with systemd-analyze verify
// (any warning fails: systemd ignores a misspelt key with only a warning)
// and that each ExecStart is a command line mcpgov accepts.
func TestDeploySystemd(t *testing.T) {
	units, _ := filepath.Glob(filepath.Join(deployDir, "systemd", "*.service"))
	if len(units) != 2 {
		t.Fatalf("units: %v", units)
	}
	self, err := exec.LookPath("mcpgov")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		text, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		var argv []string
		sc := bufio.NewScanner(bytes.NewReader(text))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "ExecStart=/usr/bin/mcpgov "); ok {
				argv = strings.Fields(v)
			}
		}
		if len(argv) == 0 {
			t.Fatalf("%s: no ExecStart=/usr/bin/mcpgov", u)
		}
		for i, a := range argv {
			argv[i] = strings.NewReplacer("${MCPGOV_AUDIT_BUCKET}", "s3://audit-lake/mcpgov", "%H", "host-1").Replace(a)
		}
		if _, errOut, code := mcpgovRun(t, append(argv, "--help")...); code != 0 {
			t.Errorf("%s: mcpgov %s: exit %d\n%s", filepath.Base(u), strings.Join(argv, " "), code, errOut)
		}
		// systemd-analyze wants the binary to exist: point it at this one.
		copyDir := t.TempDir()
		copyPath := filepath.Join(copyDir, filepath.Base(u))
		os.WriteFile(copyPath, bytes.ReplaceAll(text, []byte("/usr/bin/mcpgov"), []byte(self)), 0o644)
		ok, err := haveProgram("systemd-analyze")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Log("systemd-analyze not installed: unit syntax not checked")
			continue
		}
		cmd := exec.Command("systemd-analyze", "verify", "--man=no", copyPath)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(u), err, out)
		}
	}
}

// TestGatewayReadyzReflectsAuditStore: a replica whose audit trail cannot
// be opened is alive (/healthz) but not ready (/readyz 503 naming the
// trail), so a load balancer or Kubernetes sends calls elsewhere; the same
// gateway with a working trail is ready.
func TestGatewayReadyzReflectsAuditStore(t *testing.T) {
	bundle := t.TempDir()
	writeFile(t, filepath.Join(bundle, "catalog.toml"), "[catalog]\nname = \"ready\"\nmode = \"enforce\"\n")
	readyz := func(base string) (int, string) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	notDir := filepath.Join(t.TempDir(), "file")
	writeFile(t, notDir, "not a directory\n")
	base, _ := startGatewayEnv(t, sandboxEnv(t, "MCPGOV_AUDIT_DIR="+filepath.Join(notDir, "audit")), bundle)
	if code, body := readyz(base); code != http.StatusServiceUnavailable || !strings.Contains(body, "audit trail unavailable") {
		t.Fatalf("/readyz with a broken audit trail: %d %q", code, body)
	}
	base, _ = startGatewayEnv(t, sandboxEnv(t, "MCPGOV_AUDIT_DIR="+t.TempDir()), bundle)
	if code, body := readyz(base); code != http.StatusOK {
		t.Fatalf("/readyz with a working audit trail: %d %q", code, body)
	}
}
