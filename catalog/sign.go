package catalog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// A bundle is signed by listing every file in it with its SHA-256 (the
// manifest) and signing the manifest's canonical text with ed25519. The
// signature lives in bundle.sig beside the files; machines hold the public
// keys they trust (DESIGN §2) and refuse a bundle that is unsigned when a
// key is pinned, signed by another key, or changed after signing.
//
// bundle.sig (JSON):
//
//	{
//	  "version": 1,
//	  "algorithm": "ed25519",
//	  "keyId": "3f0c9a5e1b7d2468",          first 8 bytes of SHA-256(public key), hex
//	  "publicKey": "mcpgov-ed25519:…",      informational; trust comes from config
//	  "files": [{"path": "catalog.toml", "sha256": "…"}, …],
//	  "signature": "…"                      base64 ed25519 over the canonical manifest
//	}
//
// The canonical manifest is text, one line per file sorted by path:
//
//	mcpgov-bundle-manifest/v1\n
//	<sha256 hex>  <path>\n
//	…

// SignatureFile is the signature's file name inside a bundle.
const SignatureFile = "bundle.sig"

// PublicKeyPrefix starts the one-line public key users paste into config.
const PublicKeyPrefix = "mcpgov-ed25519:"

// PrivateKeyPEMType is the PEM block type of a private key file; the
// block holds PKCS#8 DER. Keys in plain "PRIVATE KEY" PEM (openssl genpkey
// -algorithm ed25519) are read too.
const PrivateKeyPEMType = "MCPGOV BUNDLE PRIVATE KEY"

const (
	signatureVersion  = 1
	manifestHeader    = "mcpgov-bundle-manifest/v1\n"
	signatureAlgoName = "ed25519"
)

// Errors VerifyBundle wraps; test with errors.Is.
var (
	ErrNotSigned          = errors.New("bundle is not signed")
	ErrUntrustedKey       = errors.New("bundle is signed by a key that is not trusted")
	ErrBadSignature       = errors.New("bundle signature does not verify")
	ErrBundleModified     = errors.New("bundle changed after it was signed")
	ErrMalformedSignature = errors.New("malformed " + SignatureFile)
)

// PublicKey is an ed25519 public key that verifies bundles.
type PublicKey ed25519.PublicKey

// PrivateKey is an ed25519 private key that signs bundles.
type PrivateKey ed25519.PrivateKey

// GenerateKey makes a signing key pair from random (crypto/rand when nil).
func GenerateKey(random io.Reader) (PublicKey, PrivateKey, error) {
	if random == nil {
		random = rand.Reader
	}
	pub, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return nil, nil, fmt.Errorf("generate signing key: %w", err)
	}
	return PublicKey(pub), PrivateKey(priv), nil
}

// String is the key as users paste it into config: mcpgov-ed25519:<base64>.
func (k PublicKey) String() string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(k)
}

// KeyID is the hex of the first 8 bytes of the key's SHA-256.
func (k PublicKey) KeyID() string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:8])
}

// ParsePublicKey reads a key written by PublicKey.String (surrounding
// space ignored, so a key file's contents can be passed as they are).
func ParsePublicKey(s string) (PublicKey, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, PublicKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("public key %q: want %s<base64>", shortenKey(s), PublicKeyPrefix)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("public key %q: not base64: %v", shortenKey(s), err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key %q: %d bytes, want %d", shortenKey(s), len(raw), ed25519.PublicKeySize)
	}
	return PublicKey(raw), nil
}

func shortenKey(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// Public is the private key's public half.
func (k PrivateKey) Public() PublicKey {
	return PublicKey(ed25519.PrivateKey(k).Public().(ed25519.PublicKey))
}

// String never shows key material, so a private key printed by mistake
// leaks nothing.
func (k PrivateKey) String() string {
	if len(k) != ed25519.PrivateKeySize {
		return "mcpgov private key (invalid)"
	}
	return "mcpgov private key " + k.Public().KeyID()
}

// GoString keeps %#v from printing key material.
func (k PrivateKey) GoString() string { return k.String() }

// MarshalPEM encodes the key as PKCS#8 in a PrivateKeyPEMType block.
func (k PrivateKey) MarshalPEM() ([]byte, error) {
	if len(k) != ed25519.PrivateKeySize {
		return nil, errors.New("not an ed25519 private key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.PrivateKey(k))
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{
		Type:    PrivateKeyPEMType,
		Headers: map[string]string{"Key-Id": k.Public().KeyID()},
		Bytes:   der,
	}), nil
}

// ParsePrivateKeyPEM reads a key written by MarshalPEM, or a plain PKCS#8
// "PRIVATE KEY" PEM holding an ed25519 key.
func ParsePrivateKeyPEM(data []byte) (PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found; want a " + PrivateKeyPEMType + " file")
	}
	if block.Type != PrivateKeyPEMType && block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block is %q; want %q", block.Type, PrivateKeyPEMType)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS#8 key: %w", err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T; bundle keys are ed25519", key)
	}
	return PrivateKey(ed), nil
}

// WritePrivateKeyFile writes the key as PEM, readable by its owner only
// (0600). It never overwrites an existing file.
func WritePrivateKeyFile(name string, k PrivateKey) error {
	data, err := k.MarshalPEM()
	if err != nil {
		return fmt.Errorf("write private key %s: %w", name, err)
	}
	return writeNewFile(name, data, 0o600)
}

// ReadPrivateKeyFile reads a key written by WritePrivateKeyFile.
func ReadPrivateKeyFile(name string) (PrivateKey, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	k, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", name, err)
	}
	return k, nil
}

// WritePublicKeyFile writes the one-line public key (0644). It never
// overwrites an existing file.
func WritePublicKeyFile(name string, k PublicKey) error {
	return writeNewFile(name, []byte(k.String()+"\n"), 0o644)
}

func writeNewFile(name string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// Manifest lists every file of a bundle with its SHA-256, sorted by path.
type Manifest struct {
	Files []ManifestFile `json:"files"`
}

// ManifestFile is one bundle file: its slash-separated path relative to the
// bundle and the hex SHA-256 of its contents.
type ManifestFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// BuildManifest walks the bundle in dir: every regular file, except
// bundle.sig and anything whose name starts with a dot (.git, .DS_Store),
// by relative slash path. A symbolic link counts as the file it points to,
// which must be inside the bundle; links to directories and other special
// files are errors, since what they add could change unseen.
func BuildManifest(dir string) (Manifest, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return Manifest{}, fmt.Errorf("bundle %s: %w", dir, err)
	}
	var files []ManifestFile
	// One read buffer for every file: io.Copy from an *os.File took 32 KB
	// a file, and the shim hashes its bundle at start and on every watch
	// tick (a starter bundle is 6 files of a few KB each).
	buf := make([]byte, 8<<10)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || rel == SignatureFile {
			return nil
		}
		if !utf8.ValidString(rel) || strings.ContainsAny(rel, "\\\n\r") {
			return fmt.Errorf("%q: file names in a signed bundle must be UTF-8 without backslashes or line breaks", rel)
		}
		target := p
		switch mode := d.Type(); {
		case mode&fs.ModeSymlink != 0:
			if target, err = bundleLinkTarget(root, p, rel); err != nil {
				return err
			}
		case !mode.IsRegular():
			return fmt.Errorf("%s is not a regular file (%s); a signed bundle holds only files", rel, mode)
		}
		sum, err := hashFile(target, buf)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		files = append(files, ManifestFile{Path: rel, SHA256: sum})
		return nil
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("bundle %s: %w", dir, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return Manifest{Files: files}, nil
}

// bundleLinkTarget resolves a symlink and checks it stays inside the bundle
// and ends at a regular file.
func bundleLinkTarget(root, p, rel string) (string, error) {
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("symlink %s: %w", rel, err)
	}
	inside, err := filepath.Rel(root, target)
	if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) || filepath.IsAbs(inside) {
		return "", fmt.Errorf("symlink %s points outside the bundle (to %s)", rel, target)
	}
	info, err := os.Stat(target)
	if err != nil {
		return "", fmt.Errorf("symlink %s: %w", rel, err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("symlink %s points to %s, not a file; a signed bundle links only to files", rel, filepath.ToSlash(inside))
	}
	return target, nil
}

// hashFile is the hex SHA-256 of the file name, read through buf.
func hashFile(name string, buf []byte) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	// Only the file's Read: *os.File's WriteTo would bring its own buffer.
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Canonical is the exact text a signature covers.
func (m Manifest) Canonical() []byte {
	var b bytes.Buffer
	b.WriteString(manifestHeader)
	for _, f := range m.Files {
		b.WriteString(f.SHA256)
		b.WriteString("  ")
		b.WriteString(f.Path)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Digest is a short revision id of the manifest (12 hex digits), for audit
// records: equal bundles have equal digests, any file change alters it.
func (m Manifest) Digest() string {
	sum := sha256.Sum256(m.Canonical())
	return hex.EncodeToString(sum[:6])
}

// ManifestDigest is the revision id of the bundle in dir.
func ManifestDigest(dir string) (string, error) {
	m, err := BuildManifest(dir)
	if err != nil {
		return "", err
	}
	return m.Digest(), nil
}

// Signature is the content of bundle.sig.
type Signature struct {
	Version   int            `json:"version"`
	Algorithm string         `json:"algorithm"`
	KeyID     string         `json:"keyId"`
	PublicKey string         `json:"publicKey,omitempty"`
	Files     []ManifestFile `json:"files"`
	Signature string         `json:"signature"`
}

// SignBundle signs the bundle in dir with priv and writes bundle.sig,
// replacing an earlier one atomically.
func SignBundle(dir string, priv PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return errors.New("sign bundle: not an ed25519 private key")
	}
	m, err := BuildManifest(dir)
	if err != nil {
		return fmt.Errorf("sign bundle: %w", err)
	}
	pub := priv.Public()
	sig := Signature{
		Version:   signatureVersion,
		Algorithm: signatureAlgoName,
		KeyID:     pub.KeyID(),
		PublicKey: pub.String(),
		Files:     m.Files,
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(ed25519.PrivateKey(priv), m.Canonical())),
	}
	if sig.Files == nil {
		sig.Files = []ManifestFile{}
	}
	data, err := json.MarshalIndent(sig, "", "  ")
	if err != nil {
		return fmt.Errorf("sign bundle: %w", err)
	}
	data = append(data, '\n')
	if err := writeSignatureFile(dir, data); err != nil {
		return fmt.Errorf("sign bundle %s: %w", dir, err)
	}
	return nil
}

// writeSignatureFile replaces dir/bundle.sig atomically; the temporary file
// is a dot-file, which manifests skip.
func writeSignatureFile(dir string, data []byte) error {
	return writeAtomic(filepath.Join(dir, SignatureFile), data, 0o644)
}

var (
	keyIDPattern = lazyRegexp(`^[0-9a-f]{16}$`)
	hexSHA256    = lazyRegexp(`^[0-9a-f]{64}$`)
)

// ReadSignature reads and checks the form of dir/bundle.sig; it verifies
// nothing. A missing file wraps ErrNotSigned, a malformed one
// ErrMalformedSignature.
func ReadSignature(dir string) (*Signature, error) {
	data, err := os.ReadFile(filepath.Join(dir, SignatureFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bundle %s: %w (no %s)", dir, ErrNotSigned, SignatureFile)
	}
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("bundle %s: %w: %s", dir, ErrMalformedSignature, fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var sig Signature
	if err := dec.Decode(&sig); err != nil {
		return nil, bad("%v", err)
	}
	if dec.More() {
		return nil, bad("unexpected data after the JSON object")
	}
	switch {
	case sig.Version != signatureVersion:
		return nil, bad("version %d: want %d", sig.Version, signatureVersion)
	case sig.Algorithm != signatureAlgoName:
		return nil, bad("algorithm %q: want %s", sig.Algorithm, signatureAlgoName)
	case !keyIDPattern().MatchString(sig.KeyID):
		return nil, bad("keyId %q: want 16 lower-case hex digits", sig.KeyID)
	case sig.Files == nil:
		return nil, bad("files is missing")
	}
	if raw, err := base64.StdEncoding.DecodeString(sig.Signature); err != nil || len(raw) != ed25519.SignatureSize {
		return nil, bad("signature is not %d base64-encoded bytes", ed25519.SignatureSize)
	}
	if sig.PublicKey != "" {
		pub, err := ParsePublicKey(sig.PublicKey)
		if err != nil {
			return nil, bad("publicKey: %v", err)
		}
		if pub.KeyID() != sig.KeyID {
			return nil, bad("publicKey has key id %s, not the keyId %s", pub.KeyID(), sig.KeyID)
		}
	}
	for i, f := range sig.Files {
		switch {
		case f.Path == "" || path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == ".." || strings.HasPrefix(f.Path, "../") ||
			strings.ContainsAny(f.Path, "\\\n\r"):
			return nil, bad("files[%d].path %q is not a clean relative path", i, f.Path)
		case !hexSHA256().MatchString(f.SHA256):
			return nil, bad("files[%d].sha256: want 64 lower-case hex digits", i)
		case i > 0 && sig.Files[i-1].Path >= f.Path:
			return nil, bad("files[%d]: %q is out of order or repeated", i, f.Path)
		}
	}
	return &sig, nil
}

// UntrustedKeyError is a signature by a key not among the trusted ones.
type UntrustedKeyError struct {
	Dir     string
	KeyID   string   // the signer's
	Trusted []string // key ids that would have been accepted
}

func (e *UntrustedKeyError) Error() string {
	trusted := "no keys are trusted"
	if len(e.Trusted) > 0 {
		trusted = "trusted: " + strings.Join(e.Trusted, ", ")
	}
	return fmt.Sprintf("bundle %s is signed by key %s, which is not trusted (%s)", e.Dir, e.KeyID, trusted)
}

func (e *UntrustedKeyError) Unwrap() error { return ErrUntrustedKey }

// ModifiedError names the files that differ from the signed manifest.
type ModifiedError struct {
	Dir                     string
	Added, Removed, Changed []string
}

func (e *ModifiedError) Error() string {
	var parts []string
	for _, kind := range []struct {
		verb  string
		files []string
	}{{"changed", e.Changed}, {"added", e.Added}, {"removed", e.Removed}} {
		if len(kind.files) > 0 {
			parts = append(parts, kind.verb+": "+strings.Join(kind.files, ", "))
		}
	}
	return fmt.Sprintf("bundle %s changed after it was signed (%s)", e.Dir, strings.Join(parts, "; "))
}

func (e *ModifiedError) Unwrap() error { return ErrBundleModified }

// VerifyBundle checks that dir holds a bundle.sig made by one of trusted
// over exactly the files now in dir. Errors wrap ErrNotSigned,
// ErrMalformedSignature, ErrUntrustedKey (*UntrustedKeyError names the
// key), ErrBadSignature or ErrBundleModified (*ModifiedError names the
// files).
func VerifyBundle(dir string, trusted []PublicKey) error {
	_, err := verifyBundle(dir, trusted)
	return err
}

// verifyBundle is VerifyBundle returning the signature it verified.
func verifyBundle(dir string, trusted []PublicKey) (*Signature, error) {
	sig, err := ReadSignature(dir)
	if err != nil {
		return nil, err
	}
	var candidates []PublicKey
	var ids []string
	for _, k := range trusted {
		if len(k) != ed25519.PublicKeySize {
			continue
		}
		ids = append(ids, k.KeyID())
		if k.KeyID() == sig.KeyID {
			candidates = append(candidates, k)
		}
	}
	if len(candidates) == 0 {
		return nil, &UntrustedKeyError{Dir: dir, KeyID: sig.KeyID, Trusted: ids}
	}
	signed := Manifest{Files: sig.Files}
	raw, _ := base64.StdEncoding.DecodeString(sig.Signature)
	verified := false
	for _, k := range candidates {
		if ed25519.Verify(ed25519.PublicKey(k), signed.Canonical(), raw) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, fmt.Errorf("bundle %s: %w: key %s did not sign this file list (%s was edited)", dir, ErrBadSignature, sig.KeyID, SignatureFile)
	}
	now, err := BuildManifest(dir)
	if err != nil {
		return nil, err
	}
	if diff := diffManifests(dir, signed, now); diff != nil {
		return nil, diff
	}
	return sig, nil
}

// diffManifests reports how now differs from signed, or nil.
func diffManifests(dir string, signed, now Manifest) *ModifiedError {
	was := map[string]string{}
	for _, f := range signed.Files {
		was[f.Path] = f.SHA256
	}
	e := &ModifiedError{Dir: dir}
	for _, f := range now.Files {
		sum, ok := was[f.Path]
		switch {
		case !ok:
			e.Added = append(e.Added, f.Path)
		case sum != f.SHA256:
			e.Changed = append(e.Changed, f.Path)
		}
		delete(was, f.Path)
	}
	for p := range was {
		e.Removed = append(e.Removed, p)
	}
	sort.Strings(e.Removed)
	if len(e.Added)+len(e.Removed)+len(e.Changed) == 0 {
		return nil
	}
	return e
}

// lazyRegexp compiles expr on its first use, once, safe for concurrent
// first use: a start of mcpgov that never needs the pattern does not pay
// for it in package init.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
