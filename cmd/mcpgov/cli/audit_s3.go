package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mcpgov/mcpgov/audit"
	"github.com/mcpgov/mcpgov/audit/objstore"
)

// openS3 opens the bucket an s3:// URL names with credentials from the
// environment: AWS_ACCESS_KEY_ID, and AWS_SECRET_ACCESS_KEY or
// MCPGOV_S3_SECRET_FILE (a file holding the secret, as Kubernetes secrets
// and systemd credentials are mounted), and AWS_SESSION_TOKEN. The secret
// never appears in a message.
func openS3(f *Factory, raw string) (*objstore.Bucket, error) {
	loc, err := objstore.ParseURL(raw)
	if err != nil {
		return nil, &FlagError{Err: err}
	}
	creds := objstore.Credentials{AccessKeyID: f.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: f.Getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: f.Getenv("AWS_SESSION_TOKEN")}
	if path := f.Getenv("MCPGOV_S3_SECRET_FILE"); path != "" && creds.SecretAccessKey == "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, withHint(fmt.Errorf("read the object store secret: %w", err), "MCPGOV_S3_SECRET_FILE must name a readable file holding the secret access key")
		}
		creds.SecretAccessKey = strings.TrimSpace(string(b))
	}
	b, err := objstore.Open(loc, creds, nil)
	if err != nil {
		return nil, withHint(err, "credentials come from the environment only, never from flags or config files, so they stay out of shell history and ps")
	}
	return b, nil
}

// parseRetain reads --retain: years ("7y"), days ("2555d") or a duration.
func parseRetain(v string) (years int, d time.Duration, err error) {
	if v == "" {
		return 0, 0, nil
	}
	if y, ok := strings.CutSuffix(v, "y"); ok {
		n, err := strconv.Atoi(y)
		if err != nil || n <= 0 {
			return 0, 0, flagErrorf("invalid --retain %q: want years like 7y, days like 2555d or a duration like 36h", v)
		}
		return n, 0, nil
	}
	d, err = audit.ParseAge(v)
	if err != nil || d <= 0 {
		return 0, 0, flagErrorf("invalid --retain %q: want years like 7y, days like 2555d or a duration like 36h", v)
	}
	return 0, d, nil
}
