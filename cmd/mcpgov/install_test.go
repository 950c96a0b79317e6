package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// relInstallScript is the script a release ships as install.sh.
const relInstallScript = "install.sh"

// TestInstallScriptIsPOSIX parses install.sh as POSIX sh, so a bashism fails
// here rather than on a user's dash or busybox.
func TestInstallScriptIsPOSIX(t *testing.T) {
	f, err := os.Open(relInstallScript)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(f, relInstallScript); err != nil {
		t.Fatalf("install.sh is not POSIX sh: %v", err)
	}
}

// TestInstallScript runs install.sh against a fake release served on
// loopback: each platform's archive is picked from checksums.txt, verified
// and installed; a tampered archive, a hostile name or an unknown CPU
// installs nothing.
func TestInstallScript(t *testing.T) {
	relRequireInstallTools(t)
	rel := t.TempDir()
	archives := map[string]string{} // platform → archive name
	for _, p := range []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64", "windows_arm64"} {
		name, body := relFakeArchive(t, "1.2.3", p)
		relWrite(t, filepath.Join(rel, name), body)
		archives[p] = name
	}
	// An SBOM's name also ends in the platform; the script must not take it.
	relWrite(t, filepath.Join(rel, archives["linux_amd64"]+".sbom.json"), []byte("{}"))
	relChecksums(t, rel)
	srv := httptest.NewServer(http.FileServer(http.Dir(rel)))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name, sys, machine, bin string
		tools                   []string
	}{
		{"linux-amd64-curl", "Linux", "x86_64", "mcpgov", []string{"curl", "sha256sum"}},
		{"linux-arm64-wget", "Linux", "aarch64", "mcpgov", []string{"wget", "sha256sum"}},
		{"darwin-arm64-shasum", "Darwin", "arm64", "mcpgov", []string{"curl", "shasum"}},
		{"darwin-amd64-openssl", "Darwin", "x86_64", "mcpgov", []string{"wget", "openssl"}},
		{"windows-amd64-zip", "MINGW64_NT-10.0-19045", "x86_64", "mcpgov.exe", []string{"curl", "sha256sum", "unzip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, tool := range tc.tools {
				if _, err := exec.LookPath(tool); err != nil {
					t.Skipf("%s is not installed", tool)
				}
			}
			prefix := t.TempDir()
			res := relRunInstall(t, relInstallEnv{base: srv.URL, prefix: prefix, sys: tc.sys, machine: tc.machine, tools: tc.tools})
			if res.err != nil {
				t.Fatalf("install failed: %v\n%s", res.err, res.stderr)
			}
			plat := relPlatform(tc.sys, tc.machine)
			got, err := os.ReadFile(filepath.Join(prefix, "bin", tc.bin))
			if err != nil {
				t.Fatal(err)
			}
			if want := relFakeBinary(plat); string(got) != want {
				t.Errorf("installed %q, want the %s binary", got, plat)
			}
			if fi, err := os.Stat(filepath.Join(prefix, "bin", tc.bin)); err == nil && fi.Mode().Perm() != 0o755 {
				t.Errorf("mode %v, want 0755", fi.Mode().Perm())
			}
			if _, err := os.Stat(filepath.Join(prefix, "share", "man", "man1", "mcpgov.1")); err != nil {
				t.Errorf("man page: %v", err)
			}
			if !strings.Contains(res.stderr, "verified SHA-256") || !strings.Contains(res.stderr, archives[plat]) {
				t.Errorf("stderr does not name the verified archive:\n%s", res.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout should be empty, got %q", res.stdout)
			}
			relNoLeftovers(t, filepath.Join(prefix, "bin"), tc.bin)
		})
	}

	t.Run("tampered", func(t *testing.T) {
		bad := t.TempDir()
		relCopy(t, filepath.Join(rel, "checksums.txt"), filepath.Join(bad, "checksums.txt"))
		relTamper(t, filepath.Join(rel, archives["linux_amd64"]), filepath.Join(bad, archives["linux_amd64"]))
		relInstallRefused(t, bad, "checksum mismatch")
	})
	t.Run("hostile-name", func(t *testing.T) {
		bad := t.TempDir()
		relWrite(t, filepath.Join(bad, "checksums.txt"),
			[]byte(strings.Repeat("a", 64)+"  mcpgov_../../../etc/x_linux_amd64.tar.gz\n"))
		relInstallRefused(t, bad, "unexpected archive name")
	})
	t.Run("no-archive-for-platform", func(t *testing.T) {
		bad := t.TempDir()
		relCopy(t, filepath.Join(rel, "checksums.txt"), filepath.Join(bad, "checksums.txt"))
		prefix := t.TempDir()
		res := relRunInstall(t, relInstallEnv{base: relServe(t, bad), prefix: prefix, sys: "Linux", machine: "riscv64"})
		if res.err == nil || !strings.Contains(res.stderr, "unsupported CPU: riscv64") {
			t.Errorf("riscv64: err %v, stderr:\n%s", res.err, res.stderr)
		}
	})
	t.Run("no-checksums", func(t *testing.T) {
		relInstallRefused(t, t.TempDir(), "cannot download")
	})
}

// relInstallRefused runs the script against dir for linux/amd64 over an
// installed mcpgov, and checks it fails with want and leaves that one alone.
func relInstallRefused(t *testing.T, dir, want string) {
	t.Helper()
	prefix := t.TempDir()
	old := filepath.Join(prefix, "bin", "mcpgov")
	relWrite(t, old, []byte("old"))
	res := relRunInstall(t, relInstallEnv{base: relServe(t, dir), prefix: prefix, sys: "Linux", machine: "x86_64"})
	if res.err == nil {
		t.Fatalf("install succeeded, want failure %q\n%s", want, res.stderr)
	}
	if !strings.Contains(res.stderr, "mcpgov-install: error: "+want) {
		t.Errorf("stderr does not say %q:\n%s", want, res.stderr)
	}
	if got, _ := os.ReadFile(old); string(got) != "old" {
		t.Errorf("the installed mcpgov was replaced: %q", got)
	}
	relNoLeftovers(t, filepath.Join(prefix, "bin"), "mcpgov")
}

func relNoLeftovers(t *testing.T, dir, want string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != want {
			t.Errorf("left behind %s", filepath.Join(dir, e.Name()))
		}
	}
}

// relInstallEnv is one run of install.sh: uname reports sys and machine, and
// PATH holds only the base tools plus tools, so each downloader and hash
// tool is exercised alone.
type relInstallEnv struct {
	base, prefix, sys, machine string
	tools                      []string
	script                     string // default: install.sh beside this test
}

type relInstallResult struct {
	stdout, stderr string
	err            error
}

// relBaseTools are what install.sh needs besides a downloader and a hash tool.
var relBaseTools = []string{"mktemp", "awk", "tar", "gzip", "tr", "rm", "mkdir", "cp", "chmod", "mv"}

func relRequireInstallTools(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("install.sh runs under a POSIX sh")
	}
	for _, tool := range append([]string{"sh"}, relBaseTools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

func relRunInstall(t *testing.T, e relInstallEnv) relInstallResult {
	t.Helper()
	if e.tools == nil {
		e.tools = []string{"curl", "sha256sum"}
	}
	if e.script == "" {
		e.script = relInstallScript
	}
	script, err := filepath.Abs(e.script)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, tool := range append(append([]string{}, relBaseTools...), e.tools...) {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is not installed", tool)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	uname := fmt.Sprintf("#!%s\ncase $1 in -s) echo '%s' ;; -m) echo '%s' ;; *) exit 1 ;; esac\n", sh, e.sys, e.machine)
	if err := os.WriteFile(filepath.Join(bin, "uname"), []byte(uname), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, script, "--prefix", e.prefix)
	cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(), "MCPGOV_BASE_URL=" + e.base}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	return relInstallResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

func relServe(t *testing.T, dir string) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

func relPlatform(sys, machine string) string {
	goos := map[string]string{"Linux": "linux", "Darwin": "darwin"}[sys]
	if goos == "" {
		goos = "windows"
	}
	arch := map[string]string{"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[machine]
	return goos + "_" + arch
}

func relFakeBinary(platform string) string { return "#!/bin/sh\necho fake mcpgov " + platform + "\n" }

// relFakeArchive builds an archive shaped like goreleaser's: the binary, the
// README and the man pages at the root.
func relFakeArchive(t *testing.T, version, platform string) (string, []byte) {
	t.Helper()
	files := []struct {
		name string
		mode int64
		body string
	}{
		{"mcpgov", 0o755, relFakeBinary(platform)},
		{"README.md", 0o644, "# mcpgov\n"},
		{"man/man1/mcpgov.1", 0o644, ".TH MCPGOV 1\n"},
	}
	var buf bytes.Buffer
	name := "mcpgov_" + version + "_" + platform
	if strings.HasPrefix(platform, "windows") {
		files[0].name = "mcpgov.exe"
		zw := zip.NewWriter(&buf)
		for _, f := range files {
			w, err := zw.Create(f.name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte(f.body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return name + ".zip", buf.Bytes()
	}
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return name + ".tar.gz", buf.Bytes()
}

// relChecksums writes dir/checksums.txt the way goreleaser does.
func relChecksums(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sums strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&sums, "%s  %s\n", relSHA256(t, filepath.Join(dir, e.Name())), e.Name())
	}
	relWrite(t, filepath.Join(dir, "checksums.txt"), []byte(sums.String()))
}

func relSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// relTamper copies src to dst with one byte in the middle flipped.
func relTamper(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	relWrite(t, dst, b)
}

func relCopy(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	relWrite(t, dst, b)
}

func relWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
