// Package s3test starts a real S3-compatible server for tests: versitygw
// (Apache-2.0; built into .cache/bin by make e2e-deps) with its posix
// backend and versioning, which is what Object Lock needs, on a loopback
// port and a temporary directory.
package s3test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mcpgov/mcpgov/audit/objstore"
	"github.com/mcpgov/mcpgov/shim/shimtest/await"
	"github.com/mcpgov/mcpgov/shim/shimtest/logbuf"
)

// Test credentials of the server's root account.
const (
	AccessKey = "mcpgov-test"
	SecretKey = "mcpgov-test-secret-not-real"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is its http://127.0.0.1:PORT.
	Endpoint string
	// Root holds the buckets: ROOT/BUCKET/KEY is the current version of
	// each object, as a plain file.
	Root string
}

// Creds are the credentials to give objstore.Open.
func (s *Server) Creds() objstore.Credentials {
	return objstore.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey}
}

// URL is s3://BUCKET/PREFIX with the query that reaches this server.
func (s *Server) URL(bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&path_style=true&region=us-east-1", bucket, prefix, s.Endpoint)
}

// Start runs versitygw until the test ends. Without it on PATH the test
// is skipped, or fails when MCPGOV_E2E is set.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		if os.Getenv("MCPGOV_E2E") != "" {
			t.Fatal("versitygw is not installed but MCPGOV_E2E is set; run make e2e-deps")
		}
		t.Skip("versitygw not installed (make e2e-deps)")
	}
	dir := t.TempDir()
	root, versions := filepath.Join(dir, "root"), filepath.Join(dir, "versions")
	for _, d := range []string{root, versions} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The port is picked by the kernel and handed over; another process
	// taking it in between would make the start fail loudly, not hang.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", "--versioning-dir", versions, root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+AccessKey, "ROOT_SECRET_ACCESS_KEY="+SecretKey)
	var out logbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	s := &Server{Endpoint: "http://" + addr, Root: root}
	client := s.Client(t)
	await.Until(t, "versitygw to answer on "+addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("versitygw exited: %s", out.String())
		default:
		}
		_, err := client.ListBuckets(context.Background(), &s3.ListBucketsInput{})
		return err == nil
	})
	return s
}

// Client is a raw S3 client of the server, for what the tests do behind
// mcpgov's back (delete an object, overwrite one).
func (s *Server) Client(t testing.TB) *s3.Client {
	t.Helper()
	loc, err := objstore.ParseURL(s.URL("x", ""))
	if err != nil {
		t.Fatal(err)
	}
	b, err := objstore.Open(loc, s.Creds(), &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	return b.Client()
}

// Bucket creates a bucket; with lockDays > 0 it has Object Lock with a
// default retention of that many days in GOVERNANCE mode (a test cannot
// use COMPLIANCE: not even the root account could remove the objects).
func (s *Server) Bucket(t testing.TB, name string, lockDays int32) {
	t.Helper()
	ctx := await.Context(t)
	c := s.Client(t)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(lockDays > 0)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	if lockDays == 0 {
		return
	}
	_, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String(name),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(lockDays)}}}})
	if err != nil {
		t.Fatalf("object lock on bucket %s: %v", name, err)
	}
}
