package objstore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/audit/objstore"
)

func TestParseURL(t *testing.T) {
	loc, err := objstore.ParseURL("s3://lake/a/b/?endpoint=http://127.0.0.1:7070&path_style=true&region=eu-west-3")
	if err != nil {
		t.Fatal(err)
	}
	want := objstore.Location{Bucket: "lake", Prefix: "a/b", Endpoint: "http://127.0.0.1:7070", Region: "eu-west-3", PathStyle: true}
	if loc != want || loc.String() != "s3://lake/a/b" {
		t.Fatalf("got %+v (%s)", loc, loc)
	}
	if loc, err := objstore.ParseURL("s3://lake"); err != nil || loc.Region != "us-east-1" || loc.Prefix != "" || loc.Endpoint != "" {
		t.Fatalf("defaults: %+v %v", loc, err)
	}
	for raw, wantErr := range map[string]string{
		"https://lake/p":                 "want s3://bucket",
		"s3:///p":                        "want s3://bucket",
		"s3://lake?endpoint=ftp://x":     "invalid endpoint",
		"s3://lake?path_style=maybe":     "invalid path_style",
		"s3://lake?use_path_style=true":  `unknown parameter "use_path_style"`,
		"s3://lake?secret=do-not-put-me": `unknown parameter "secret"`,
	} {
		if _, err := objstore.ParseURL(raw); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: got %v, want %q", raw, err, wantErr)
		}
	}
}

func TestValidReplica(t *testing.T) {
	for _, ok := range []string{"gw-1", "mcpgov-gateway-0", "host.example.com", "A_b"} {
		if err := objstore.ValidReplica(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "a/b", "a=b", "..", strings.Repeat("x", 65), "gw 1"} {
		if err := objstore.ValidReplica(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestCredentialsNeverPrinted: a secret formatted by mistake stays hidden.
func TestCredentialsNeverPrinted(t *testing.T) {
	c := objstore.Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG", SessionToken: "tok-secret"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, "wJalr") || strings.Contains(s, "tok-secret") {
			t.Fatalf("secret printed: %s", s)
		}
	}
	if _, err := objstore.Open(objstore.Location{Bucket: "b"}, objstore.Credentials{AccessKeyID: "x"}, nil); err == nil || !strings.Contains(err.Error(), "MCPGOV_S3_SECRET_FILE") {
		t.Fatalf("missing secret: %v", err)
	}
}
