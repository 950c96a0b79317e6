// Package objstore keeps a central copy of audit stores in S3-compatible
// object storage (AWS S3, or GCS and Azure through their S3-compatible
// endpoints, MinIO, versitygw): Parquet objects partitioned by day and
// replica, each holding a contiguous range of one store's chain with the
// exact record lines, and the store's signed checkpoints beside them. When
// the bucket has Object Lock, every object is written under its retention,
// so the team whose machines produce the records cannot change or remove
// what was shipped; objects are created with If-None-Match, so a key is
// written once and an overwrite is refused even where versioning would
// keep the old copy. Verify checks the central copy on its own: contiguous
// ranges, the hash chain across objects, and every checkpoint.
package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Location is where the central copy lives: a bucket, a key prefix, and
// how to reach the service.
type Location struct {
	Bucket string
	Prefix string // without leading or trailing slash; may be empty
	// Endpoint is the service URL (empty: AWS S3 in Region).
	Endpoint string
	Region   string
	// PathStyle addresses the bucket in the path rather than the host
	// name, as most S3-compatible servers need.
	PathStyle bool
}

// ParseURL reads s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=true].
// Unknown query parameters are errors, so a misspelt one is not ignored.
func ParseURL(raw string) (Location, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return Location{}, fmt.Errorf("invalid object store URL %q: want s3://bucket[/prefix][?endpoint=URL&region=R&path_style=true]", raw)
	}
	loc := Location{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Region: "us-east-1"}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "endpoint":
			eu, err := url.Parse(v)
			if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
				return Location{}, fmt.Errorf("invalid endpoint %q in %s: want http(s)://host[:port]", v, raw)
			}
			loc.Endpoint = v
		case "region":
			loc.Region = v
		case "path_style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Location{}, fmt.Errorf("invalid path_style %q in %s: want true or false", v, raw)
			}
			loc.PathStyle = b
		default:
			return Location{}, fmt.Errorf("unknown parameter %q in %s: want endpoint, region or path_style", k, raw)
		}
	}
	return loc, nil
}

// String is the location as an s3:// URL without the query.
func (l Location) String() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

// Credentials are the access key pair. String never shows the secret.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// String names the key id only.
func (c Credentials) String() string { return "access key " + c.AccessKeyID + " (secret hidden)" }

// GoString keeps the secret out of %#v as well.
func (c Credentials) GoString() string { return c.String() }

// Bucket is an opened Location.
type Bucket struct {
	loc    Location
	client *s3.Client
}

// Open returns a client for loc. It does not contact the service.
func Open(loc Location, creds Credentials, hc *http.Client) (*Bucket, error) {
	if loc.Bucket == "" {
		return nil, errors.New("no bucket given")
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return nil, errors.New("no object store credentials: set AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY or MCPGOV_S3_SECRET_FILE")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	opts := s3.Options{
		Region:       loc.Region,
		UsePathStyle: loc.PathStyle,
		HTTPClient:   hc,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
				SessionToken: creds.SessionToken, Source: "mcpgov"}, nil
		}),
	}
	if loc.Endpoint != "" {
		opts.BaseEndpoint = aws.String(loc.Endpoint)
	}
	return &Bucket{loc: loc, client: s3.New(opts)}, nil
}

// Location is where b points.
func (b *Bucket) Location() Location { return b.loc }

// Client is the S3 client, for administration this package does not do.
func (b *Bucket) Client() *s3.Client { return b.client }

// key joins the prefix and a relative key.
func (b *Bucket) key(rel string) string {
	if b.loc.Prefix == "" {
		return rel
	}
	return b.loc.Prefix + "/" + rel
}

// ErrExists is returned by Create when the key is taken.
var ErrExists = errors.New("object already exists")

// Retention is the Object Lock retention to write an object under.
type Retention struct {
	Mode  string // COMPLIANCE or GOVERNANCE
	Until time.Time
}

// Create writes a new object at rel with If-None-Match: *, so an existing
// object (current version) is never replaced: that is ErrExists. With ret,
// the object is written under that retention; otherwise the bucket's
// default retention, if any, applies.
func (b *Bucket) Create(ctx context.Context, rel string, body []byte, meta map[string]string, ret *Retention) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(b.loc.Bucket),
		Key:           aws.String(b.key(rel)),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		IfNoneMatch:   aws.String("*"),
		Metadata:      meta,
	}
	if ret != nil {
		in.ObjectLockMode = types.ObjectLockMode(ret.Mode)
		in.ObjectLockRetainUntilDate = aws.Time(ret.Until)
	}
	_, err := b.client.PutObject(ctx, in)
	if isCode(err, "PreconditionFailed", "ConditionalRequestConflict") {
		return fmt.Errorf("put %s: %w", b.key(rel), ErrExists)
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", b.key(rel), err)
	}
	return nil
}

// Get reads the object at rel and its user metadata.
func (b *Bucket) Get(ctx context.Context, rel string) ([]byte, map[string]string, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.loc.Bucket), Key: aws.String(b.key(rel))})
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", b.key(rel), err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", b.key(rel), err)
	}
	return body, out.Metadata, nil
}

// Download copies the object at rel to w as it arrives (the body is never
// held in memory whole) and returns its size.
func (b *Bucket) Download(ctx context.Context, rel string, w io.Writer) (int64, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.loc.Bucket), Key: aws.String(b.key(rel))})
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", b.key(rel), err)
	}
	defer out.Body.Close()
	n, err := io.Copy(w, out.Body)
	if err != nil {
		return n, fmt.Errorf("get %s: %w", b.key(rel), err)
	}
	return n, nil
}

// Head reads the user metadata of the object at rel.
func (b *Bucket) Head(ctx context.Context, rel string) (map[string]string, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.loc.Bucket), Key: aws.String(b.key(rel))})
	if err != nil {
		return nil, fmt.Errorf("head %s: %w", b.key(rel), err)
	}
	return out.Metadata, nil
}

// List returns the keys under rel (relative to the prefix), sorted.
func (b *Bucket) List(ctx context.Context, rel string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: aws.String(b.loc.Bucket), Prefix: aws.String(b.key(rel))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", b.key(rel), err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if b.loc.Prefix != "" {
				k = strings.TrimPrefix(k, b.loc.Prefix+"/")
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// Lock is a bucket's Object Lock setting.
type Lock struct {
	Enabled bool
	Mode    string // default retention mode, COMPLIANCE or GOVERNANCE ("" none)
	Days    int32
	Years   int32
}

// String describes the lock for messages.
func (l Lock) String() string {
	switch {
	case !l.Enabled:
		return "no object lock"
	case l.Mode == "":
		return "object lock without default retention"
	case l.Years > 0:
		return fmt.Sprintf("object lock %s %d years", l.Mode, l.Years)
	}
	return fmt.Sprintf("object lock %s %d days", l.Mode, l.Days)
}

// Lock reads the bucket's Object Lock configuration (disabled when the
// bucket has none).
func (b *Bucket) Lock(ctx context.Context) (Lock, error) {
	out, err := b.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(b.loc.Bucket)})
	if isCode(err, "ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound") {
		return Lock{}, nil
	}
	if err != nil {
		return Lock{}, fmt.Errorf("read object lock of bucket %s: %w", b.loc.Bucket, err)
	}
	c := out.ObjectLockConfiguration
	if c == nil || c.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		return Lock{}, nil
	}
	l := Lock{Enabled: true}
	if c.Rule != nil && c.Rule.DefaultRetention != nil {
		r := c.Rule.DefaultRetention
		l.Mode, l.Days, l.Years = string(r.Mode), aws.ToInt32(r.Days), aws.ToInt32(r.Years)
	}
	return l, nil
}

func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// History is what a versioned bucket remembers of one key.
type History struct {
	Versions      int // object versions, the current one included
	DeleteMarkers int
}

// Histories returns, for each key under rel with more than one version or
// any delete marker, its history. A bucket without versioning (or a
// service without the call) has none to tell: the result is empty.
func (b *Bucket) Histories(ctx context.Context, rel string) (map[string]History, error) {
	out := map[string]History{}
	all := map[string]History{}
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(b.loc.Bucket), Prefix: aws.String(b.key(rel))}
	for {
		page, err := b.client.ListObjectVersions(ctx, in)
		if isCode(err, "NotImplemented", "MethodNotAllowed") {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list versions under %s: %w", b.key(rel), err)
		}
		for _, v := range page.Versions {
			h := all[aws.ToString(v.Key)]
			h.Versions++
			all[aws.ToString(v.Key)] = h
		}
		for _, m := range page.DeleteMarkers {
			h := all[aws.ToString(m.Key)]
			h.DeleteMarkers++
			all[aws.ToString(m.Key)] = h
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	for k, h := range all {
		if h.Versions > 1 || h.DeleteMarkers > 0 {
			if b.loc.Prefix != "" {
				k = strings.TrimPrefix(k, b.loc.Prefix+"/")
			}
			out[k] = h
		}
	}
	return out, nil
}
