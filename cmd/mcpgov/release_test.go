package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// relReleasePlatforms are the builds .goreleaser.yaml makes.
var relReleasePlatforms = []struct{ goos, goarch string }{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// TestRelease checks what `make snapshot` left in MCPGOV_DIST (make
// release-test sets it): every archive with its binary, README, man pages
// and completions, checksums.txt over everything, an SBOM per archive, deb
// and rpm packages as dpkg-deb and rpm read them, the Homebrew cask, the
// host's binary stamped with the release version — and install.sh installing
// from dist/ over loopback, refusing a tampered archive.
func TestRelease(t *testing.T) {
	dist := os.Getenv("MCPGOV_DIST")
	if dist == "" {
		t.Skip("MCPGOV_DIST is not set; run make release-test")
	}
	var meta struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
	}
	relReadJSONFile(t, filepath.Join(dist, "metadata.json"), &meta)
	if meta.Version == "" || meta.Commit == "" {
		t.Fatalf("metadata.json names no version or commit: %+v", meta)
	}
	// In a git checkout goreleaser must have read the commit (it reads none
	// in a clone without a remote unless make snapshot lends it one).
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil && strings.TrimSpace(string(head)) != meta.Commit {
		t.Errorf("metadata.json commit %q, want HEAD %s", meta.Commit, head)
	}
	sums := relReadChecksums(t, dist)

	archives := map[string]string{} // goos_goarch → archive name
	for _, p := range relReleasePlatforms {
		ext := "tar.gz"
		if p.goos == "windows" {
			ext = "zip"
		}
		name := fmt.Sprintf("mcpgov_%s_%s_%s.%s", meta.Version, p.goos, p.goarch, ext)
		archives[p.goos+"_"+p.goarch] = name
		t.Run("archive/"+p.goos+"_"+p.goarch, func(t *testing.T) {
			relCheckArchive(t, filepath.Join(dist, name), p.goos)
			relCheckSBOM(t, filepath.Join(dist, name+".sbom.json"))
			for _, f := range []string{name, name + ".sbom.json"} {
				if _, ok := sums[f]; !ok {
					t.Errorf("checksums.txt does not list %s", f)
				}
			}
		})
	}
	t.Run("checksums", func(t *testing.T) {
		for name, want := range sums {
			if got := relSHA256(t, filepath.Join(dist, name)); got != want {
				t.Errorf("%s: sha256 %s, checksums.txt says %s", name, got, want)
			}
		}
	})
	t.Run("deb", func(t *testing.T) { relCheckDebs(t, dist, meta.Version, sums) })
	t.Run("rpm", func(t *testing.T) { relCheckRPMs(t, dist, sums) })
	t.Run("cask", func(t *testing.T) { relCheckCask(t, dist, meta.Version, archives, sums) })

	host := runtime.GOOS + "_" + runtime.GOARCH
	if runtime.GOOS == "windows" {
		return // install.sh and the binary check below need a POSIX sh
	}
	t.Run("binary", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "mcpgov")
		relExtractFile(t, filepath.Join(dist, archives[host]), "mcpgov", bin)
		relCheckVersionJSON(t, bin, meta.Version, meta.Commit)
	})
	t.Run("install.sh", func(t *testing.T) {
		relRequireInstallTools(t)
		sys := map[string]string{"linux": "Linux", "darwin": "Darwin"}[runtime.GOOS]
		machine := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
		base := relServe(t, dist)
		prefix := t.TempDir()
		res := relRunInstall(t, relInstallEnv{base: base, prefix: prefix, sys: sys, machine: machine})
		if res.err != nil {
			t.Fatalf("install from dist/ failed: %v\n%s", res.err, res.stderr)
		}
		relCheckVersionJSON(t, filepath.Join(prefix, "bin", "mcpgov"), meta.Version, meta.Commit)
		if _, err := os.Stat(filepath.Join(prefix, "share", "man", "man1", "mcpgov-scan.1")); err != nil {
			t.Errorf("man pages: %v", err)
		}

		bad := t.TempDir()
		relCopy(t, filepath.Join(dist, "checksums.txt"), filepath.Join(bad, "checksums.txt"))
		relTamper(t, filepath.Join(dist, archives[host]), filepath.Join(bad, archives[host]))
		prefix = t.TempDir()
		res = relRunInstall(t, relInstallEnv{base: relServe(t, bad), prefix: prefix, sys: sys, machine: machine})
		if res.err == nil || !strings.Contains(res.stderr, "mcpgov-install: error: checksum mismatch for "+archives[host]) {
			t.Errorf("tampered archive: err %v, stderr:\n%s", res.err, res.stderr)
		}
		if _, err := os.Stat(filepath.Join(prefix, "bin", "mcpgov")); !os.IsNotExist(err) {
			t.Errorf("tampered archive was installed (stat: %v)", err)
		}
	})
}

func relReadJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// relReadChecksums reads dist/checksums.txt into name → sha256.
func relReadChecksums(t *testing.T, dist string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 || strings.ContainsAny(name, "/ ") {
			t.Fatalf("checksums.txt: malformed line %q", sc.Text())
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sums
}

// relCheckArchive wants the binary, the README, the license when the
// repository has one, the man pages and the completions.
func relCheckArchive(t *testing.T, path, goos string) {
	t.Helper()
	names := relArchiveNames(t, path)
	want := []string{"README.md", "man/man1/mcpgov.1", "man/man1/mcpgov-scan.1",
		"completions/mcpgov.bash", "completions/_mcpgov", "completions/mcpgov.fish", "completions/mcpgov.ps1"}
	if goos == "windows" {
		want = append(want, "mcpgov.exe")
	} else {
		want = append(want, "mcpgov")
	}
	licenses, _ := filepath.Glob(filepath.Join("..", "..", "LICENSE*"))
	for _, l := range licenses {
		want = append(want, filepath.Base(l))
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("%s has no %s; it holds %v", filepath.Base(path), w, names)
		}
	}
}

// relArchiveNames lists the regular files of a .tar.gz or .zip.
func relArchiveNames(t *testing.T, path string) []string {
	t.Helper()
	var names []string
	relWalkArchive(t, path, func(name string, _ io.Reader) bool {
		names = append(names, name)
		return true
	})
	return names
}

// relExtractFile copies one member of the archive at path to dst, executable.
func relExtractFile(t *testing.T, path, member, dst string) {
	t.Helper()
	found := false
	relWalkArchive(t, path, func(name string, r io.Reader) bool {
		if name != member {
			return true
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
		found = true
		return false
	})
	if !found {
		t.Fatalf("%s has no %s", path, member)
	}
}

func relWalkArchive(t *testing.T, path string, fn func(name string, r io.Reader) bool) {
	t.Helper()
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			more := fn(f.Name, rc)
			rc.Close()
			if !more {
				return
			}
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag == tar.TypeReg && !fn(h.Name, tr) {
			return
		}
	}
}

// relCheckSBOM wants an SPDX document that names the modules compiled into the
// binary, which syft reads from its build info.
func relCheckSBOM(t *testing.T, path string) {
	t.Helper()
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name    string `json:"name"`
			Version string `json:"versionInfo"`
		} `json:"packages"`
	}
	relReadJSONFile(t, path, &doc)
	if !strings.HasPrefix(doc.SPDXVersion, "SPDX-2.") {
		t.Errorf("%s: spdxVersion %q", filepath.Base(path), doc.SPDXVersion)
	}
	for _, dep := range []string{"github.com/spf13/cobra", "github.com/open-policy-agent/opa"} {
		if !slices.ContainsFunc(doc.Packages, func(p struct {
			Name    string `json:"name"`
			Version string `json:"versionInfo"`
		}) bool {
			return p.Name == dep && p.Version != ""
		}) {
			t.Errorf("%s does not list %s with a version", filepath.Base(path), dep)
		}
	}
}

// relCheckDebs reads each .deb with dpkg-deb.
func relCheckDebs(t *testing.T, dist, version string, sums map[string]string) {
	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	if len(debs) != 2 {
		t.Fatalf("want a deb for amd64 and arm64, got %v", debs)
	}
	if !relRequireProgram(t, "dpkg-deb") {
		return
	}
	for _, deb := range debs {
		if _, ok := sums[filepath.Base(deb)]; !ok {
			t.Errorf("checksums.txt does not list %s", filepath.Base(deb))
		}
		info := relOutput(t, "dpkg-deb", "--info", deb)
		arch := "amd64"
		if strings.Contains(deb, "arm64") {
			arch = "arm64"
		}
		for _, w := range []string{"Package: mcpgov\n", "Version: " + strings.ReplaceAll(version, "-", "~"), "Architecture: " + arch + "\n", "Maintainer: ", "Homepage: https://github.com/mcpgov/mcpgov"} {
			if !strings.Contains(info, w) {
				t.Errorf("%s: dpkg-deb --info has no %q:\n%s", filepath.Base(deb), w, info)
			}
		}
		contents := relOutput(t, "dpkg-deb", "--contents", deb)
		for _, w := range []string{"./usr/bin/mcpgov\n", "./usr/share/man/man1/mcpgov.1\n", "./usr/share/doc/mcpgov/README.md\n",
			"./usr/share/bash-completion/completions/mcpgov\n", "./usr/share/zsh/vendor-completions/_mcpgov\n", "./usr/share/fish/vendor_completions.d/mcpgov.fish\n"} {
			if !strings.Contains(contents, w) {
				t.Errorf("%s: no %s in:\n%s", filepath.Base(deb), strings.TrimSpace(w), contents)
			}
		}
		if !strings.Contains(contents, "-rwxr-xr-x root/root") {
			t.Errorf("%s: mcpgov is not an executable owned by root:\n%s", filepath.Base(deb), contents)
		}
	}
}

// relCheckRPMs reads each .rpm with rpm -qip and -qlp.
func relCheckRPMs(t *testing.T, dist string, sums map[string]string) {
	rpms, _ := filepath.Glob(filepath.Join(dist, "*.rpm"))
	if len(rpms) != 2 {
		t.Fatalf("want an rpm for x86_64 and aarch64, got %v", rpms)
	}
	if !relRequireProgram(t, "rpm") {
		return
	}
	for _, rpm := range rpms {
		if _, ok := sums[filepath.Base(rpm)]; !ok {
			t.Errorf("checksums.txt does not list %s", filepath.Base(rpm))
		}
		info := relOutput(t, "rpm", "-qip", rpm)
		arch := "x86_64"
		if strings.Contains(rpm, "aarch64") {
			arch = "aarch64"
		}
		for _, w := range []string{"Name        : mcpgov", "Architecture: " + arch, "URL         : https://github.com/mcpgov/mcpgov"} {
			if !strings.Contains(info, w) {
				t.Errorf("%s: rpm -qip has no %q:\n%s", filepath.Base(rpm), w, info)
			}
		}
		list := relOutput(t, "rpm", "-qlp", rpm)
		for _, w := range []string{"/usr/bin/mcpgov\n", "/usr/share/man/man1/mcpgov.1\n", "/usr/share/zsh/site-functions/_mcpgov\n"} {
			if !strings.Contains(list, w) {
				t.Errorf("%s: no %s in:\n%s", filepath.Base(rpm), strings.TrimSpace(w), list)
			}
		}
	}
}

// relCheckCask wants the cask to name each macOS and Linux archive by its
// release URL and its checksum.
func relCheckCask(t *testing.T, dist, version string, archives, sums map[string]string) {
	b, err := os.ReadFile(filepath.Join(dist, "homebrew", "Casks", "mcpgov.rb"))
	if err != nil {
		t.Fatal(err)
	}
	cask := string(b)
	for _, w := range []string{`cask "mcpgov" do`, `version "` + version + `"`, `binary "mcpgov"`, `manpage "man/man1/mcpgov.1"`,
		`bash_completion "completions/mcpgov.bash"`, `homepage "https://github.com/mcpgov/mcpgov"`} {
		if !strings.Contains(cask, w) {
			t.Errorf("cask has no %s:\n%s", w, cask)
		}
	}
	// The URL spells the version as the cask's #{version}; the tag before it
	// is the release's (v0.0.0 in a snapshot of an untagged clone).
	for _, p := range []string{"darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64"} {
		name := archives[p]
		url := "/" + strings.Replace(name, version, "#{version}", 1) + `"`
		sha := `sha256 "` + sums[name] + `"`
		i := strings.Index(cask, url)
		if i < 0 || !strings.Contains(cask[strings.LastIndex(cask[:i], "\n"):i], `url "https://github.com/mcpgov/mcpgov/releases/download/`) ||
			!strings.HasPrefix(strings.TrimSpace(cask[i+len(url):]), sha) {
			t.Errorf("cask has no release URL ending %s followed by %s:\n%s", url, sha, cask)
		}
	}
}

// relCheckVersionJSON runs `bin version --json` and wants the release stamp.
func relCheckVersionJSON(t *testing.T, bin, version, commit string) {
	t.Helper()
	var doc struct {
		SchemaVersion int               `json:"schemaVersion"`
		Version       string            `json:"version"`
		Commit        string            `json:"commit"`
		Date          string            `json:"date"`
		OS            string            `json:"os"`
		Arch          string            `json:"arch"`
		Settings      map[string]string `json:"settings"`
		Module        struct {
			Path string `json:"path"`
		} `json:"module"`
	}
	if err := json.Unmarshal([]byte(relOutput(t, bin, "version", "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || doc.Version != version || doc.Commit == "" || !strings.HasPrefix(commit, doc.Commit) || doc.Date == "" {
		t.Errorf("version --json: %+v, want version %s and commit %s", doc, version, commit)
	}
	if doc.OS != runtime.GOOS || doc.Arch != runtime.GOARCH || doc.Module.Path != "github.com/mcpgov/mcpgov" {
		t.Errorf("version --json: platform %s/%s module %q", doc.OS, doc.Arch, doc.Module.Path)
	}
	if doc.Settings["-trimpath"] != "true" || doc.Settings["CGO_ENABLED"] != "0" {
		t.Errorf("version --json: settings %v, want -trimpath and CGO_ENABLED=0", doc.Settings)
	}
}

// relRequireProgram reports whether prog is installed; make release-test
// installs them, so there (MCPGOV_E2E) a missing one fails.
func relRequireProgram(t *testing.T, prog string) bool {
	t.Helper()
	ok, err := haveProgram(prog)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Logf("%s is not installed; not inspecting the packages with it", prog)
	}
	return ok
}

func relOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
