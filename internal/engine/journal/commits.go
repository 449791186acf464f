package journal

import bolt "go.etcd.io/bbolt"

// Commits is the number of write transactions committed to the file over
// its life (bbolt's transaction id): each is one durable commit, two
// fdatasyncs. Benchmarks count a sale's commits with it.
func (j *Journal) Commits() (uint64, error) {
	var id int
	err := j.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
	return uint64(id), err
}
