package audit

import (
	"errors"
	"fmt"
	"os"
)

// reserveBytes is how much disk space the store keeps allocated past the
// end of its segment. While it cannot be reserved (a disk close to full),
// Healthy reports it, so in enforce mode calls are refused before they run
// instead of running and then losing their record; the records of those
// refusals are written into the space already reserved.
const reserveBytes = 64 << 10

// reserve keeps at least reserveBytes allocated past the segment's end,
// where the system can (Linux fallocate with KEEP_SIZE: the file's size
// does not change). It allocates twice that at a time, so most batches
// find enough still reserved and make no system call for it. It sets or
// clears the store's health; elsewhere it does nothing.
func (s *Store) reserve() {
	if s.segSize+reserveBytes <= s.reservedTo {
		return
	}
	f, ok := s.seg.(*os.File)
	if !ok {
		return
	}
	err := preallocate(f, s.segSize, 2*reserveBytes)
	if errors.Is(err, errPreallocUnsupported) {
		return
	}
	if err != nil {
		err = fmt.Errorf("reserve space for the next audit records in %s: %w", s.segPath(s.segNum), err)
		s.health.Store(&err)
		return
	}
	s.reservedTo = s.segSize + 2*reserveBytes
	s.health.Store(nil)
}

var errPreallocUnsupported = errors.New("preallocation is not supported here")
