package journal

// Damage detection and salvage. bbolt trusts its file: a page it reads
// through a damaged pointer panics (invalid freelist page, slice bounds out
// of range) or faults the process (a page id past the end of the mapping),
// so a journal damaged past its meta pages stopped every start. Open
// therefore checks a file before using it, in three steps:
//
//  1. bbolt opens it read-only, with panics — and memory faults —
//     recovered (read-only, bbolt reads no freelist: a damaged one made it
//     allocate terabytes);
//  2. checkPages walks the file's bytes from the meta page, bounds-checked,
//     so that no page id bbolt would follow lies outside the file;
//  3. bbolt's own consistency check (tx.Check) runs, which is safe once
//     step 2 holds; then bbolt opens it for writing.
//
// A file that fails any step is damaged: every record still readable in it
// is salvaged into a new journal and the file is moved aside. Salvage does
// not go through bbolt's tree at all: it reads every leaf page of the file
// (live or freed), keeps the values that decode as a Record stored under
// its own transaction_api_id, and of several versions of one record keeps
// the newest (Updated). An older version can only be behind the truth,
// never ahead of it: a sale it shows unfinished is looked up at the
// gateway as any unfinished sale is, and a result it shows unacknowledged
// is delivered again.
//
// This file knows bbolt's on-disk format (version 2): page header, meta,
// branch and leaf elements, inline buckets. It only ever reads.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/posagent/posagent/internal/sale"
	"github.com/posagent/posagent/internal/statedir"
	bolt "go.etcd.io/bbolt"
)

// bbolt's on-disk layout.
const (
	pageHeaderSize  = 16 // id u64, flags u16, count u16, overflow u32
	elementSize     = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	bucketHeadSize  = 16 // root pgid u64, sequence u64; an inline bucket's page follows
	metaSize        = 64
	metaChecksumOff = 56
	flagBranch      = 0x01
	flagLeaf        = 0x02
	flagFreelist    = 0x10
	leafBucketFlag  = 0x01
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	noFreelist      = ^uint64(0)
	maxTreeDepth    = 64
)

var ne = binary.NativeEndian // bbolt writes its integers in the machine's order

// pageSizes are the page sizes salvage tries when no meta page says which.
var pageSizes = []int{4096, 8192, 16384, 65536}

type meta struct {
	pageSize             int
	root, freelist, high uint64 // high: the first page id past the file's pages
	txid                 uint64
}

// readMeta decodes the meta page at off, nil unless magic, version and
// checksum hold.
func readMeta(b []byte, off int) *meta {
	if off < 0 || off+pageHeaderSize+metaSize > len(b) {
		return nil
	}
	m := b[off+pageHeaderSize : off+pageHeaderSize+metaSize]
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion {
		return nil
	}
	h := fnv.New64a()
	_, _ = h.Write(m[:metaChecksumOff])
	if h.Sum64() != ne.Uint64(m[metaChecksumOff:]) {
		return nil
	}
	return &meta{pageSize: int(ne.Uint32(m[8:])), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]),
		high: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}
}

// currentMeta is the meta bbolt would use: the valid one with the higher
// transaction id.
func currentMeta(b []byte) *meta {
	m0 := readMeta(b, 0)
	var m1 *meta
	if m0 != nil {
		m1 = readMeta(b, m0.pageSize)
	} else {
		for _, ps := range pageSizes {
			if m1 = readMeta(b, ps); m1 != nil {
				break
			}
		}
	}
	switch {
	case m0 == nil:
		return m1
	case m1 == nil || m0.txid >= m1.txid:
		return m0
	}
	return m1
}

// checkPages walks the tree and the freelist from the current meta page
// over the file's bytes, checking every page id, element and key/value
// against the bounds of its page and of the file. nil: bbolt can read
// every page it will follow.
func checkPages(b []byte) error {
	return checkPagesAt(bytes.NewReader(b), int64(len(b)))
}

// checkPagesAt is checkPages over a file of size bytes read through f,
// one page at a time: the check holds a path of pages in memory, never
// the file.
func checkPagesAt(f io.ReaderAt, size int64) error {
	w, err := checkHeadAt(f, size)
	if err != nil {
		return err
	}
	return w.walk(w.m.root, 0)
}

// checkHeadAt checks what bbolt reads when it opens a file for writing,
// before any transaction — the meta pages, the file's size, the freelist
// — and returns the walker to go on from. A few pages: it runs even on a
// file stamped clean (clean.go), whose freelist may have rotted since, and
// a garbage count there is not a panic but a fatal allocation.
func checkHeadAt(f io.ReaderAt, size int64) (*walker, error) {
	head := make([]byte, min(size, 2*int64(pageSizes[len(pageSizes)-1])))
	if _, err := f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read the meta pages: %w", err)
	}
	m := currentMeta(head)
	if m == nil {
		return nil, errors.New("no valid meta page")
	}
	if m.pageSize < 512 || m.pageSize > 1<<20 || m.high < 3 {
		return nil, fmt.Errorf("meta page: page size %d, %d pages", m.pageSize, m.high)
	}
	if need := m.high * uint64(m.pageSize); need > uint64(size) {
		return nil, fmt.Errorf("file truncated: %d bytes, its pages need %d", size, need)
	}
	w := &walker{f: f, m: m, seen: map[uint64]bool{}}
	if m.freelist != noFreelist {
		if err := w.checkFreelist(m.freelist); err != nil {
			return nil, err
		}
	}
	return w, nil
}

type walker struct {
	f    io.ReaderAt // the file, at least m.high pages long
	m    *meta
	seen map[uint64]bool
}

// page returns the bytes of page id with its overflow pages, after
// checking that the header says it is that page and that it fits.
func (w *walker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= w.m.high {
		return nil, fmt.Errorf("page id %d outside the file's %d pages", id, w.m.high)
	}
	ps := uint64(w.m.pageSize)
	p := make([]byte, ps)
	if _, err := w.f.ReadAt(p, int64(id*ps)); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	if got := ne.Uint64(p); got != id {
		return nil, fmt.Errorf("page %d: header says page %d", id, got)
	}
	n := uint64(ne.Uint32(p[12:])) + 1
	if id+n > w.m.high {
		return nil, fmt.Errorf("page %d: %d overflow pages run past the file", id, n-1)
	}
	if n > 1 {
		p = append(p, make([]byte, (n-1)*ps)...)
		if _, err := w.f.ReadAt(p[ps:], int64((id+1)*ps)); err != nil {
			return nil, fmt.Errorf("page %d: %w", id, err)
		}
	}
	return p, nil
}

func (w *walker) checkFreelist(id uint64) error {
	p, err := w.page(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if ne.Uint16(p[8:]) != flagFreelist {
		return fmt.Errorf("freelist page %d: flags %#x", id, ne.Uint16(p[8:]))
	}
	count, start := uint64(ne.Uint16(p[10:])), uint64(pageHeaderSize)
	if count == 0xFFFF { // the real count is the first id slot
		if len(p) < pageHeaderSize+8 {
			return fmt.Errorf("freelist page %d: too short", id)
		}
		count, start = ne.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > uint64(len(p)) || start+count*8 > uint64(len(p)) {
		return fmt.Errorf("freelist page %d: %d ids do not fit", id, count)
	}
	for i := uint64(0); i < count; i++ {
		if f := ne.Uint64(p[start+i*8:]); f < 2 || f >= w.m.high {
			return fmt.Errorf("freelist page %d: free page id %d outside the file", id, f)
		}
	}
	return nil
}

func (w *walker) walk(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page %d: tree deeper than %d", id, maxTreeDepth)
	}
	if w.seen[id] {
		return fmt.Errorf("page %d: referenced twice", id)
	}
	w.seen[id] = true
	p, err := w.page(id)
	if err != nil {
		return err
	}
	switch flags := ne.Uint16(p[8:]); flags {
	case flagBranch:
		count := int(ne.Uint16(p[10:]))
		if count == 0 || pageHeaderSize+count*elementSize > len(p) {
			return fmt.Errorf("branch page %d: %d elements do not fit", id, count)
		}
		for i := 0; i < count; i++ {
			e := pageHeaderSize + i*elementSize
			pos, ksize := int(ne.Uint32(p[e:])), int(ne.Uint32(p[e+4:]))
			if !fits(e, pos, ksize, len(p)) {
				return fmt.Errorf("branch page %d: key %d out of bounds", id, i)
			}
			if err := w.walk(ne.Uint64(p[e+8:]), depth+1); err != nil {
				return err
			}
		}
		return nil
	case flagLeaf:
		return w.checkLeaf(p, fmt.Sprintf("leaf page %d", id), depth)
	default:
		return fmt.Errorf("page %d: flags %#x where a branch or leaf page belongs", id, flags)
	}
}

// checkLeaf checks a leaf page (p starts at its header: a file page or an
// inline bucket's page) and walks the buckets it holds.
func (w *walker) checkLeaf(p []byte, name string, depth int) error {
	if len(p) < pageHeaderSize || ne.Uint16(p[8:]) != flagLeaf {
		return fmt.Errorf("%s: not a leaf page", name)
	}
	count := int(ne.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return fmt.Errorf("%s: %d elements do not fit", name, count)
	}
	for i := 0; i < count; i++ {
		e := pageHeaderSize + i*elementSize
		flags, pos := ne.Uint32(p[e:]), int(ne.Uint32(p[e+4:]))
		ksize, vsize := int(ne.Uint32(p[e+8:])), int(ne.Uint32(p[e+12:]))
		if ksize < 0 || vsize < 0 || !fits(e, pos, ksize+vsize, len(p)) {
			return fmt.Errorf("%s: element %d out of bounds", name, i)
		}
		if flags&leafBucketFlag == 0 {
			continue
		}
		v := p[e+pos+ksize : e+pos+ksize+vsize]
		if len(v) < bucketHeadSize {
			return fmt.Errorf("%s: bucket %d: header too short", name, i)
		}
		if root := ne.Uint64(v); root != 0 {
			if err := w.walk(root, depth+1); err != nil {
				return err
			}
		} else if err := w.checkLeaf(v[bucketHeadSize:], name+" inline bucket", depth+1); err != nil {
			return err
		}
	}
	return nil
}

// fits reports whether n bytes at base+pos lie within size, without
// overflowing.
func fits(base, pos, n, size int) bool {
	return pos >= 0 && n >= 0 && base+pos >= 0 && base+pos <= size && n <= size-(base+pos)
}

// openBolt opens path with bbolt, turning a panic or a memory fault on a
// damaged file into an error (errPanicked).
func openBolt(path string, readOnly bool) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("%w: %v", errPanicked, p)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout, ReadOnly: readOnly})
}

var errPanicked = errors.New("bbolt panicked reading the file")

// boltCheck runs bbolt's consistency check; the first problems found make
// the error.
func boltCheck(db *bolt.DB) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanicked, p)
		}
	}()
	var problems []error
	verr := db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			if len(problems) < 3 {
				problems = append(problems, e)
			}
		}
		return nil
	})
	return errors.Join(append(problems, verr)...)
}

// closeQuietly closes a db opened on a damaged file.
func closeQuietly(db *bolt.DB) {
	defer func() { _ = recover() }()
	_ = db.Close()
}

// salvage reads every record it can find in the file's bytes, with the
// page size a meta page names, else the first common one that finds any.
func salvage(b []byte) []Record {
	sizes := pageSizes
	if m := currentMeta(b); m != nil && m.pageSize >= 512 && m.pageSize <= 1<<20 {
		sizes = []int{m.pageSize}
	}
	var best map[string]Record
	for _, ps := range sizes {
		if best = scanPages(b, ps); len(best) > 0 {
			break
		}
	}
	out := make([]Record, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	return out
}

// scanPages visits every page-aligned leaf page of b, live or freed.
func scanPages(b []byte, ps int) map[string]Record {
	found := map[string]Record{}
	for off := 2 * ps; off+pageHeaderSize <= len(b); off += ps {
		// A leaf's elements lie within its own pages (with overflow).
		end := min(len(b), off+(int(ne.Uint32(b[off+12:]))+1)*ps)
		scanLeaf(b[off:end], found, 0)
	}
	return found
}

// scanLeaf takes the records of one leaf page (p starts at its header and
// runs to the end of what may belong to it), descending into inline
// buckets. Anything out of bounds is skipped, never read.
func scanLeaf(p []byte, found map[string]Record, depth int) {
	if len(p) < pageHeaderSize || ne.Uint16(p[8:]) != flagLeaf || depth > 2 {
		return
	}
	count := int(ne.Uint16(p[10:]))
	for i := 0; i < count && pageHeaderSize+(i+1)*elementSize <= len(p); i++ {
		e := pageHeaderSize + i*elementSize
		flags, pos := ne.Uint32(p[e:]), int(ne.Uint32(p[e+4:]))
		ksize, vsize := int(ne.Uint32(p[e+8:])), int(ne.Uint32(p[e+12:]))
		if ksize <= 0 || vsize < 0 || ksize > len(p) || vsize > len(p) || !fits(e, pos, ksize+vsize, len(p)) {
			continue
		}
		k, v := p[e+pos:e+pos+ksize], p[e+pos+ksize:e+pos+ksize+vsize]
		if flags&leafBucketFlag != 0 {
			if len(v) > bucketHeadSize && ne.Uint64(v) == 0 {
				scanLeaf(v[bucketHeadSize:], found, depth+1)
			}
			continue
		}
		if r, ok := decodeSalvaged(k, v); ok {
			if old, dup := found[r.TransactionAPIID]; !dup || r.Updated.After(old.Updated) {
				found[r.TransactionAPIID] = r
			}
		}
	}
}

// decodeSalvaged accepts a value only if it is a whole Record stored under
// its own id, in a known state, without card data.
func decodeSalvaged(k, v []byte) (Record, bool) {
	if len(v) == 0 || v[0] != '{' || !bytes.Contains(v, k) {
		return Record{}, false // not worth decoding
	}
	var r Record
	if json.Unmarshal(v, &r) != nil || r.TransactionAPIID == "" || r.TransactionAPIID != string(k) || hasCardNumber(v) {
		return Record{}, false
	}
	switch r.State {
	case sale.StatePending, sale.StateSending, sale.StateUnknown, sale.StateDone:
		return r, true
	}
	return Record{}, false
}

// rebuild writes the salvaged records into a new journal at path's side
// (path.salvaging) and swaps it in: the damaged file is moved to aside
// first. A crash in between leaves either the damaged file in place (the
// next start does it again) or the new journal.
func rebuild(path, aside string, recs []Record) error {
	tmp := path + ".salvaging"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketMeta); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketTx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(r.TransactionAPIID), v); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = statedir.MatchOwner(tmp)
	}
	if err != nil {
		return err
	}
	if err := os.Rename(path, aside); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// asideName is where a damaged journal is kept.
func asideName(path string, now time.Time) string {
	return fmt.Sprintf("%s.damaged-%s", path, now.UTC().Format("20060102T150405.000Z"))
}
