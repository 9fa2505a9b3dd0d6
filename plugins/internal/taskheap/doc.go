// Package taskheap is the indexed binary min-heap of task IDs that the
// priority policies (edf, sjf, and later mtds, mtdbf) share.
//
// Entries are ordered by a caller-supplied three-way comparison of their
// keys, then by task ID, so the order is total and pops are deterministic.
// An index from ID to heap position makes removal of any entry O(log n).
// Positions live in a slot array rather than in the index map, so moving an
// entry during a sift writes a slice element, never the map: the map is
// touched only to add, find or delete an ID, at most twice per call. Pop
// sifts bottom-up (Floyd), one comparison per level on the way down.
//
// Complexity: Push, Pop, Remove O(log n); Peek, Len, Contains O(1). Memory
// is O(largest size reached); steady state allocates nothing.
package taskheap
