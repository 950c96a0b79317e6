package catalog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// sigTestKey is a deterministic key pair: seed bytes all equal to n.
func sigTestKey(t *testing.T, n byte) (PublicKey, PrivateKey) {
	t.Helper()
	pub, priv, err := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{n}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// sigTestBundle writes a small bundle: catalog, guardrails, a policy, and
// what manifests must ignore (.git, a dot-file).
func sigTestBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"catalog.toml":             "[catalog]\nname = \"t\"\n",
		"guardrails.toml":          "# none yet\n",
		"policies/authz.rego":      "package mcpgov.authz\n\ndefault allow := false\n",
		"policies/authz_test.rego": "package mcpgov.authz_test\n",
		".git/HEAD":                "ref: refs/heads/main\n",
		".DS_Store":                "junk",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestGenerateKeyIsDeterministicWithInjectedRandomness(t *testing.T) {
	pub1, priv1 := sigTestKey(t, 7)
	pub2, _ := sigTestKey(t, 7)
	pub3, _ := sigTestKey(t, 8)
	if !bytes.Equal(pub1, pub2) || bytes.Equal(pub1, pub3) {
		t.Fatal("GenerateKey does not follow its random source")
	}
	if !bytes.Equal(priv1.Public(), pub1) {
		t.Fatal("Public() is not the generated public key")
	}
	if id := pub1.KeyID(); len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("key id %q: want 16 hex digits", id)
	}
}

func TestPublicKeyStringRoundTrip(t *testing.T) {
	pub, _ := sigTestKey(t, 1)
	s := pub.String()
	if !strings.HasPrefix(s, PublicKeyPrefix) || strings.ContainsAny(s, " \n") {
		t.Fatalf("public key string %q: want one line starting %s", s, PublicKeyPrefix)
	}
	got, err := ParsePublicKey("  " + s + "\n") // as read from a key file
	if err != nil || !bytes.Equal(got, pub) {
		t.Fatalf("ParsePublicKey(%q) = %x, %v", s, got, err)
	}
	for in, want := range map[string]string{
		"ssh-ed25519 AAAA":       "want mcpgov-ed25519:<base64>",
		PublicKeyPrefix + "%%%":  "not base64",
		PublicKeyPrefix + "AAAA": "3 bytes, want 32",
		"":                       "want mcpgov-ed25519:",
	} {
		if _, err := ParsePublicKey(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePublicKey(%q) = %v, want error containing %q", in, err, want)
		}
	}
}

func TestPrivateKeyFiles(t *testing.T) {
	dir := t.TempDir()
	pub, priv := sigTestKey(t, 2)
	keyPath, pubPath := filepath.Join(dir, "bundle.key"), filepath.Join(dir, "bundle.pub")
	if err := WritePrivateKeyFile(keyPath, priv); err != nil {
		t.Fatal(err)
	}
	if err := WritePublicKeyFile(pubPath, pub); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		info, _ := os.Stat(keyPath)
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("private key mode %o, want 600", perm)
		}
	}
	data, _ := os.ReadFile(keyPath)
	if !bytes.HasPrefix(data, []byte("-----BEGIN "+PrivateKeyPEMType+"-----")) || !bytes.Contains(data, []byte("Key-Id: "+pub.KeyID())) {
		t.Errorf("private key file:\n%s", data)
	}
	got, err := ReadPrivateKeyFile(keyPath)
	if err != nil || !bytes.Equal(got, priv) {
		t.Fatalf("ReadPrivateKeyFile: %v", err)
	}
	pubText, _ := os.ReadFile(pubPath)
	if gotPub, err := ParsePublicKey(string(pubText)); err != nil || !bytes.Equal(gotPub, pub) {
		t.Fatalf("public key file %q: %v", pubText, err)
	}
	if err := WritePrivateKeyFile(keyPath, priv); err == nil {
		t.Error("WritePrivateKeyFile overwrote an existing key")
	}

	// A plain PKCS#8 "PRIVATE KEY" (openssl genpkey -algorithm ed25519) is read too.
	der, _ := x509.MarshalPKCS8PrivateKey(ed25519.PrivateKey(priv))
	if k, err := ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil || !bytes.Equal(k, priv) {
		t.Errorf("plain PKCS#8: %v", err)
	}
	if _, err := ParsePrivateKeyPEM([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")); err == nil || !strings.Contains(err.Error(), `"CERTIFICATE"`) {
		t.Errorf("certificate accepted as a key: %v", err)
	}
	if _, err := ParsePrivateKeyPEM([]byte("not pem")); err == nil {
		t.Error("non-PEM accepted")
	}
}

func TestPrivateKeyNeverPrintsKeyMaterial(t *testing.T) {
	_, priv := sigTestKey(t, 3)
	for _, verb := range []string{"%v", "%s", "%#v", "%x", "%+v"} {
		out := fmt.Sprintf(verb, priv)
		if strings.Contains(out, fmt.Sprintf("%x", []byte(priv)[:8])) || verb != "%x" && !strings.Contains(out, priv.Public().KeyID()) {
			t.Errorf("%s of a private key printed %q", verb, out)
		}
	}
}

func TestManifest(t *testing.T) {
	dir := sigTestBundle(t)
	if err := os.WriteFile(filepath.Join(dir, SignatureFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := BuildManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, f.Path)
	}
	want := []string{"catalog.toml", "guardrails.toml", "policies/authz.rego", "policies/authz_test.rego"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("manifest paths %q, want %q (no bundle.sig, no dot-files)", paths, want)
	}
	if sum := sha256.Sum256([]byte("[catalog]\nname = \"t\"\n")); m.Files[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("catalog.toml sha256 %q", m.Files[0].SHA256)
	}
	canon := string(m.Canonical())
	if !strings.HasPrefix(canon, "mcpgov-bundle-manifest/v1\n") || !strings.Contains(canon, m.Files[2].SHA256+"  policies/authz.rego\n") {
		t.Errorf("canonical manifest:\n%s", canon)
	}

	d1, err := ManifestDigest(dir)
	if err != nil || len(d1) != 12 {
		t.Fatalf("ManifestDigest = %q, %v", d1, err)
	}
	os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("changed"), 0o644)
	if d2, _ := ManifestDigest(dir); d2 != d1 {
		t.Error("a change under .git changed the digest")
	}
	os.WriteFile(filepath.Join(dir, "guardrails.toml"), []byte("# changed\n"), 0o644)
	if d3, _ := ManifestDigest(dir); d3 == d1 {
		t.Error("a content change left the digest unchanged")
	}
}

func TestManifestSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	t.Run("inside the bundle counts as its target", func(t *testing.T) {
		dir := sigTestBundle(t)
		if err := os.Symlink("policies/authz.rego", filepath.Join(dir, "link.rego")); err != nil {
			t.Fatal(err)
		}
		m, err := BuildManifest(dir)
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string]string{}
		for _, f := range m.Files {
			sums[f.Path] = f.SHA256
		}
		if sums["link.rego"] == "" || sums["link.rego"] != sums["policies/authz.rego"] {
			t.Errorf("link not hashed as its target: %v", sums)
		}
	})
	t.Run("outside the bundle is an error", func(t *testing.T) {
		dir := sigTestBundle(t)
		outside := filepath.Join(t.TempDir(), "secret.rego")
		os.WriteFile(outside, []byte("package evil\n"), 0o644)
		if err := os.Symlink(outside, filepath.Join(dir, "policies", "evil.rego")); err != nil {
			t.Fatal(err)
		}
		_, err := BuildManifest(dir)
		if err == nil || !strings.Contains(err.Error(), "symlink policies/evil.rego points outside the bundle") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("relative escape is an error", func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "bundle")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(parent, "sibling.toml"), []byte("x"), 0o644)
		os.Symlink("../sibling.toml", filepath.Join(dir, "catalog.toml"))
		if _, err := BuildManifest(dir); err == nil || !strings.Contains(err.Error(), "points outside the bundle") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("to a directory is an error", func(t *testing.T) {
		dir := sigTestBundle(t)
		os.Symlink("policies", filepath.Join(dir, "more"))
		if _, err := BuildManifest(dir); err == nil || !strings.Contains(err.Error(), "symlink more points to policies, not a file") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("dangling is an error", func(t *testing.T) {
		dir := sigTestBundle(t)
		os.Symlink("nowhere.toml", filepath.Join(dir, "gone.toml"))
		if _, err := BuildManifest(dir); err == nil || !strings.Contains(err.Error(), "symlink gone.toml") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("the bundle directory itself may be a link", func(t *testing.T) {
		dir := sigTestBundle(t)
		link := filepath.Join(t.TempDir(), "current")
		os.Symlink(dir, link)
		a, err1 := BuildManifest(dir)
		b, err2 := BuildManifest(link)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%v %v", err1, err2)
		}
	})
}

func TestSignAndVerify(t *testing.T) {
	dir := sigTestBundle(t)
	pub, priv := sigTestKey(t, 4)
	other, _ := sigTestKey(t, 5)
	if err := SignBundle(dir, priv); err != nil {
		t.Fatal(err)
	}
	if err := VerifyBundle(dir, []PublicKey{other, pub}); err != nil {
		t.Fatalf("fresh signature does not verify: %v", err)
	}
	sig, err := ReadSignature(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sig.KeyID != pub.KeyID() || sig.PublicKey != pub.String() || len(sig.Files) != 4 {
		t.Errorf("bundle.sig: %+v", sig)
	}
	// Re-signing replaces the signature and leaves no temporary file.
	if err := SignBundle(dir, priv); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "."+SignatureFile) {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	// Dot-files may change freely.
	os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("moved"), 0o644)
	if err := VerifyBundle(dir, []PublicKey{pub}); err != nil {
		t.Errorf(".git change broke verification: %v", err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	pub, priv := sigTestKey(t, 4)
	other, otherPriv := sigTestKey(t, 6)
	cases := []struct {
		name    string
		tamper  func(t *testing.T, dir string)
		trusted []PublicKey
		is      error
		want    string
	}{
		{
			name: "one byte edited",
			tamper: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "policies", "authz.rego")
				b, _ := os.ReadFile(p)
				b[len(b)-2] ^= 1
				os.WriteFile(p, b, 0o644)
			},
			is: ErrBundleModified, want: "changed: policies/authz.rego",
		},
		{
			name: "file added",
			tamper: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "policies", "backdoor.rego"), []byte("package x\n"), 0o644)
			},
			is: ErrBundleModified, want: "added: policies/backdoor.rego",
		},
		{
			name:   "file removed",
			tamper: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "guardrails.toml")) },
			is:     ErrBundleModified, want: "removed: guardrails.toml",
		},
		{
			name:    "signed by another key",
			tamper:  func(t *testing.T, dir string) { SignBundle(dir, otherPriv) },
			is:      ErrUntrustedKey,
			want:    "signed by key " + other.KeyID() + ", which is not trusted (trusted: " + pub.KeyID() + ")",
			trusted: []PublicKey{pub},
		},
		{
			name:    "no trusted keys",
			tamper:  func(t *testing.T, dir string) {},
			is:      ErrUntrustedKey,
			want:    "not trusted (no keys are trusted)",
			trusted: []PublicKey{},
		},
		{
			name:   "signature missing",
			tamper: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, SignatureFile)) },
			is:     ErrNotSigned, want: "no bundle.sig",
		},
		{
			name: "manifest in bundle.sig edited to match an edited file",
			tamper: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, "catalog.toml"), []byte("[catalog]\nmode = \"audit\"\n"), 0o644)
				sig, _ := ReadSignature(dir)
				sum, _ := hashFile(filepath.Join(dir, "catalog.toml"), make([]byte, 7))
				sig.Files[0].SHA256 = sum
				sigWriteJSON(t, filepath.Join(dir, SignatureFile), sig)
			},
			is: ErrBadSignature, want: "key " + pub.KeyID() + " did not sign this file list",
		},
		{
			name: "signature replaced, key id kept",
			tamper: func(t *testing.T, dir string) {
				sig, _ := ReadSignature(dir)
				m := Manifest{Files: sig.Files}
				sig.Signature = sigEncode(ed25519.Sign(ed25519.PrivateKey(otherPriv), m.Canonical()))
				sig.PublicKey = ""
				sigWriteJSON(t, filepath.Join(dir, SignatureFile), sig)
			},
			is: ErrBadSignature, want: "did not sign",
		},
		{
			name: "not JSON",
			tamper: func(t *testing.T, dir string) {
				os.WriteFile(filepath.Join(dir, SignatureFile), []byte("-----BEGIN SIGNATURE-----"), 0o644)
			},
			is: ErrMalformedSignature, want: "malformed bundle.sig",
		},
		{
			name:   "unknown field",
			tamper: func(t *testing.T, dir string) { sigEdit(t, dir, func(m map[string]any) { m["signedBy"] = "mallory" }) },
			is:     ErrMalformedSignature, want: `unknown field "signedBy"`,
		},
		{
			name:   "wrong version",
			tamper: func(t *testing.T, dir string) { sigEdit(t, dir, func(m map[string]any) { m["version"] = 2 }) },
			is:     ErrMalformedSignature, want: "version 2: want 1",
		},
		{
			name:   "wrong algorithm",
			tamper: func(t *testing.T, dir string) { sigEdit(t, dir, func(m map[string]any) { m["algorithm"] = "rsa" }) },
			is:     ErrMalformedSignature, want: `algorithm "rsa"`,
		},
		{
			name:   "short signature",
			tamper: func(t *testing.T, dir string) { sigEdit(t, dir, func(m map[string]any) { m["signature"] = "AAAA" }) },
			is:     ErrMalformedSignature, want: "signature is not 64 base64-encoded bytes",
		},
		{
			name: "path escapes the bundle",
			tamper: func(t *testing.T, dir string) {
				sigEdit(t, dir, func(m map[string]any) {
					m["files"].([]any)[0].(map[string]any)["path"] = "../etc/passwd"
				})
			},
			is: ErrMalformedSignature, want: `files[0].path "../etc/passwd" is not a clean relative path`,
		},
		{
			name: "public key does not match key id",
			tamper: func(t *testing.T, dir string) {
				sigEdit(t, dir, func(m map[string]any) { m["publicKey"] = other.String() })
			},
			is: ErrMalformedSignature, want: "publicKey has key id " + other.KeyID(),
		},
		{
			name: "files out of order",
			tamper: func(t *testing.T, dir string) {
				sigEdit(t, dir, func(m map[string]any) {
					f := m["files"].([]any)
					f[0], f[1] = f[1], f[0]
				})
			},
			is: ErrMalformedSignature, want: "out of order",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := sigTestBundle(t)
			if err := SignBundle(dir, priv); err != nil {
				t.Fatal(err)
			}
			c.tamper(t, dir)
			trusted := c.trusted
			if trusted == nil {
				trusted = []PublicKey{pub}
			}
			err := VerifyBundle(dir, trusted)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant errors.Is %v, containing %q", err, c.is, c.want)
			}
		})
	}
}

func TestModifiedErrorListsEveryFile(t *testing.T) {
	dir := sigTestBundle(t)
	pub, priv := sigTestKey(t, 4)
	SignBundle(dir, priv)
	os.WriteFile(filepath.Join(dir, "catalog.toml"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "guardrails.toml"), []byte("y"), 0o644)
	os.Remove(filepath.Join(dir, "policies", "authz_test.rego"))
	os.WriteFile(filepath.Join(dir, "extra.toml"), []byte("z"), 0o644)
	err := VerifyBundle(dir, []PublicKey{pub})
	var me *ModifiedError
	if !errors.As(err, &me) {
		t.Fatalf("got %v", err)
	}
	if !reflect.DeepEqual(me.Changed, []string{"catalog.toml", "guardrails.toml"}) || !reflect.DeepEqual(me.Added, []string{"extra.toml"}) ||
		!reflect.DeepEqual(me.Removed, []string{"policies/authz_test.rego"}) {
		t.Errorf("%+v", me)
	}
	var ue *UntrustedKeyError
	other, _ := sigTestKey(t, 9)
	if err := VerifyBundle(dir, []PublicKey{other}); !errors.As(err, &ue) || ue.KeyID != pub.KeyID() {
		t.Errorf("untrusted: %v", err)
	}
}

func TestSignEmptyAndSpecialBundles(t *testing.T) {
	pub, priv := sigTestKey(t, 4)
	dir := t.TempDir()
	if err := SignBundle(dir, priv); err != nil {
		t.Fatal(err)
	}
	if err := VerifyBundle(dir, []PublicKey{pub}); err != nil {
		t.Errorf("empty bundle: %v", err)
	}
	if err := SignBundle(dir, PrivateKey([]byte("short"))); err == nil {
		t.Error("signed with a malformed key")
	}
	if err := SignBundle(filepath.Join(dir, "missing"), priv); err == nil {
		t.Error("signed a missing directory")
	}
	if runtime.GOOS != "windows" {
		d := sigTestBundle(t)
		os.WriteFile(filepath.Join(d, "bad\nname"), []byte("x"), 0o644)
		if err := SignBundle(d, priv); err == nil || !strings.Contains(err.Error(), "line breaks") {
			t.Errorf("name with a newline: %v", err)
		}
	}
}

func sigWriteJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sigEdit(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, SignatureFile)
	b, _ := os.ReadFile(p)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	sigWriteJSON(t, p, m)
}

func sigEncode(b []byte) string {
	s, _ := json.Marshal(b) // []byte marshals as standard base64
	return strings.Trim(string(s), `"`)
}

// TestManifestReadsThroughOneBuffer: a bundle's files are hashed through
// one read buffer, not 32 KB each (the shim hashes its bundle at start and
// on every watch tick), and a file larger than the buffer hashes whole.
func TestManifestReadsThroughOneBuffer(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<10) // 48 KB, several reads
	if err := os.WriteFile(filepath.Join(dir, "big.json"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%d.rego", i)), []byte("package p\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := BuildManifest(dir)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(big)
	if m.Files[0].Path != "big.json" || m.Files[0].SHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("manifest's first file = %+v, want big.json with SHA-256 %x", m.Files[0], want)
	}
	// 7 files at 32 KB each was ~230 KB.
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
		t.Fatalf("BuildManifest of 7 files allocated %d bytes, want at most %d: one read buffer for all files", d, 64<<10)
	}
}
