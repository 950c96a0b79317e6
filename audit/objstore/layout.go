package objstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/mcpgov/mcpgov/audit"
)

// The bucket layout under the prefix. Every key is a function of what it
// holds (a replica's seq range, a checkpoint's size and head, a key's
// hash), so shipping the same thing twice names the same object and the
// second write is recognised, not duplicated:
//
//	records/dt=YYYY-MM-DD/replica=NAME/part-FIRST-LAST.parquet
//	checkpoints/replica=NAME/SIZE-HEAD.json   (one audit.WitnessEntry)
//	keys/replica=NAME/HASH.pub                (one verifier key)
//
// dt is the UTC day of the records (a part never spans two days), so
// DuckDB, Athena and Spark read dt and replica as Hive partitions.
const (
	recordsDir     = "records/"
	checkpointsDir = "checkpoints/"
	keysDir        = "keys/"
)

// Metadata of a records object, for recognising a re-upload.
const (
	metaFirst = "mcpgov-first-seq"
	metaLast  = "mcpgov-last-seq"
	metaHead  = "mcpgov-head"
	metaStore = "mcpgov-store"
)

// The key patterns are compiled on first use: a counted repetition
// compiles to one instruction per count, and every mcpgov command would
// otherwise build both at start (149 KB in 2,022 allocations) for the few
// that ship or read a bucket.
var replicaRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })

// ValidReplica reports whether name can name a replica in object keys.
func ValidReplica(name string) error {
	if !replicaRE().MatchString(name) {
		return fmt.Errorf("invalid replica name %q: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

func recordsKey(day time.Time, replica string, first, last uint64) string {
	return fmt.Sprintf("%sdt=%s/replica=%s/part-%012d-%012d.parquet", recordsDir, day.UTC().Format("2006-01-02"), replica, first, last)
}

var recordsKeyRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^records/dt=(\d{4}-\d{2}-\d{2})/replica=([A-Za-z0-9][A-Za-z0-9._-]{0,63})/part-(\d{12})-(\d{12})\.parquet$`)
})

// recordsObject is a records key taken apart.
type recordsObject struct {
	Key         string
	Day         string
	Replica     string
	First, Last uint64
}

func parseRecordsKey(k string) (recordsObject, bool) {
	m := recordsKeyRE().FindStringSubmatch(k)
	if m == nil {
		return recordsObject{}, false
	}
	first, _ := strconv.ParseUint(m[3], 10, 64)
	last, _ := strconv.ParseUint(m[4], 10, 64)
	if first == 0 || last < first {
		return recordsObject{}, false
	}
	return recordsObject{Key: k, Day: m[1], Replica: m[2], First: first, Last: last}, true
}

func checkpointKey(replica string, cp audit.Checkpoint) string {
	return fmt.Sprintf("%sreplica=%s/%012d-%s.json", checkpointsDir, replica, cp.Size, cp.Head[:16])
}

func keyKey(replica, vkey string) string {
	sum := sha256.Sum256([]byte(vkey))
	return fmt.Sprintf("%sreplica=%s/%s.pub", keysDir, replica, hex.EncodeToString(sum[:8]))
}

// replicaOf returns the replica=NAME segment of a key ("" when none).
func replicaOf(k string) string {
	for seg := range strings.SplitSeq(k, "/") {
		if name, ok := strings.CutPrefix(seg, "replica="); ok {
			return name
		}
	}
	return ""
}

// Row is one record in a records object: the columns of audit export's
// Parquet, and the record's exact stored line, from which the hash chain
// and the checkpoints are checked (a re-encoding would not hash the same).
type Row struct {
	audit.ParquetRow
	Line string `parquet:"line"`
}

// encodeRows writes rows as one zstd Parquet file.
func encodeRows(rows []Row, replica, store, version string) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf,
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
		parquet.MaxRowsPerRowGroup(100_000),
		parquet.CreatedBy("mcpgov", version, ""),
		parquet.KeyValueMetadata("mcpgov.schema_version", strconv.Itoa(audit.SchemaVersion)),
		parquet.KeyValueMetadata("mcpgov.replica", replica),
		parquet.KeyValueMetadata("mcpgov.store", store))
	if _, err := w.Write(rows); err != nil {
		return nil, fmt.Errorf("write parquet: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("write parquet: %w", err)
	}
	return buf.Bytes(), nil
}

// rowBatch is how many rows a records object is read by: verification
// holds one batch of rows at a time, not the object's.
const rowBatch = 512

// eachRow reads the records object in r (size bytes, a Parquet file:
// random access for its footer), calls count with its number of rows,
// then f with each row in order, one batch of rows in memory at a time.
// It returns the rows read.
func eachRow(r io.ReaderAt, size int64, count func(int64) error, f func(Row) error) (int64, error) {
	pf, err := parquet.OpenFile(r, size)
	if err != nil {
		return 0, err
	}
	if err := count(pf.NumRows()); err != nil {
		return 0, err
	}
	rr := parquet.NewGenericReader[Row](pf)
	defer rr.Close()
	buf := make([]Row, rowBatch)
	var total int64
	for {
		n, err := rr.Read(buf)
		for i := range n {
			if ferr := f(buf[i]); ferr != nil {
				return total, ferr
			}
			total++
		}
		clear(buf[:n])
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// decodeRows reads a records object.
func decodeRows(body []byte) ([]Row, error) {
	f, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return nil, err
	}
	r := parquet.NewGenericReader[Row](f)
	defer r.Close()
	rows := make([]Row, f.NumRows())
	n, err := r.Read(rows)
	if err != nil && n != len(rows) {
		return nil, err
	}
	return rows[:n], nil
}
