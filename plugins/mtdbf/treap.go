package mtdbf

import (
	"math"

	"github.com/gosledge/gosledge/sdk"
)

// treap is a demand set: admitted tasks ordered by (deadline, ID), each
// with its remaining expected execution c, as a treap (a binary search tree
// balanced by random heap priorities; here a hash of the ID, so it is
// deterministic). Nodes live in a slice and refer to each other by index,
// 0 being nil; freed nodes are reused.
//
// Every node keeps aggregates of its subtree, recomputed bottom-up (pull)
// on each change along the path to the root:
//
//	sum = Σ c over the subtree
//	mx  = max over nodes v of the subtree of (Σ c of the subtree's nodes up
//	      to and including v, in key order) − rate·deadline(v)
//	cnt = how many nodes of the subtree are flagged (queued best-effort)
//
// With sum(left) + c(n) = own, mx(n) = max(mx(left), own − rate·dl(n),
// own + mx(right)). Adding the sum of every node before a subtree to its mx
// gives the same maximum with global prefix sums, so for the whole set
//
//	f(v) = D(dl(v)) − rate·dl(v),  D(t) = Σ c of nodes with deadline ≤ t
//
// (for nodes sharing a deadline the last one carries the full D), and
// "D(t) + C ≤ rate·(t − now) for every deadline t ≥ d" is
// "max_{dl(v) ≥ d} f(v) ≤ −C − rate·now": one descent.
type treap struct {
	rate  float64 // capacity per nanosecond, in workers
	root  int32
	n     int
	nodes []node // nodes[0] is nil: sum 0, mx −∞, cnt 0
	free  []int32
}

// node is 64 bytes, one cache line.
type node struct {
	dl   int64 // deadline, ns
	id   sdk.TaskID
	c    int64 // remaining expected execution, ns
	sum  int64
	mx   float64
	l, r int32
	prio uint32
	cnt  int32
	q    bool // flagged: queued best-effort (in the global set)
}

var negInf = math.Inf(-1)

func newTreap(rate float64) *treap {
	return &treap{rate: rate, nodes: []node{{mx: negInf}}}
}

// prio is a splitmix64 hash of the ID: random-looking, deterministic.
func prio(id sdk.TaskID) uint32 {
	z := uint64(id) + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return uint32((z ^ z>>31) >> 32)
}

func (t *treap) pull(n int32) {
	x := &t.nodes[n]
	l, r := &t.nodes[x.l], &t.nodes[x.r]
	own := l.sum + x.c
	x.sum = own + r.sum
	fo := float64(own)
	x.mx = max(l.mx, fo-t.rate*float64(x.dl), fo+r.mx)
	x.cnt = l.cnt + r.cnt
	if x.q {
		x.cnt++
	}
}

// before reports whether key (dl, id) sorts before node n.
func (t *treap) before(dl int64, id sdk.TaskID, n int32) bool {
	x := &t.nodes[n]
	return dl < x.dl || dl == x.dl && id < x.id
}

// insert adds (dl, id) with remaining c and flag q. The key must be new.
func (t *treap) insert(dl int64, id sdk.TaskID, c int64, q bool) {
	var x int32
	if k := len(t.free); k > 0 {
		x = t.free[k-1]
		t.free = t.free[:k-1]
	} else {
		x = int32(len(t.nodes))
		t.nodes = append(t.nodes, node{})
	}
	t.nodes[x] = node{dl: dl, id: id, prio: prio(id), c: c, q: q}
	t.pull(x)
	t.root = t.ins(t.root, x)
	t.n++
}

func (t *treap) ins(n, x int32) int32 {
	if n == 0 {
		return x
	}
	if t.before(t.nodes[x].dl, t.nodes[x].id, n) {
		l := t.ins(t.nodes[n].l, x)
		t.nodes[n].l = l
		if t.nodes[l].prio > t.nodes[n].prio { // rotate right
			t.nodes[n].l = t.nodes[l].r
			t.nodes[l].r = n
			t.pull(n)
			t.pull(l)
			return l
		}
	} else {
		r := t.ins(t.nodes[n].r, x)
		t.nodes[n].r = r
		if t.nodes[r].prio > t.nodes[n].prio { // rotate left
			t.nodes[n].r = t.nodes[r].l
			t.nodes[r].l = n
			t.pull(n)
			t.pull(r)
			return r
		}
	}
	t.pull(n)
	return n
}

// remove deletes (dl, id) if present.
func (t *treap) remove(dl int64, id sdk.TaskID) {
	t.root = t.del(t.root, dl, id)
}

func (t *treap) del(n int32, dl int64, id sdk.TaskID) int32 {
	if n == 0 {
		return 0
	}
	x := &t.nodes[n]
	switch {
	case dl == x.dl && id == x.id:
		m := t.merge(x.l, x.r)
		t.nodes[n] = node{}
		t.free = append(t.free, n)
		t.n--
		return m
	case t.before(dl, id, n):
		x.l = t.del(x.l, dl, id)
	default:
		x.r = t.del(x.r, dl, id)
	}
	t.pull(n)
	return n
}

// merge joins two treaps, every key of a before every key of b.
func (t *treap) merge(a, b int32) int32 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	case t.nodes[a].prio > t.nodes[b].prio:
		t.nodes[a].r = t.merge(t.nodes[a].r, b)
		t.pull(a)
		return a
	default:
		t.nodes[b].l = t.merge(a, t.nodes[b].l)
		t.pull(b)
		return b
	}
}

// set changes the remaining execution of (dl, id) to c and its flag to q.
func (t *treap) set(dl int64, id sdk.TaskID, c int64, q bool) {
	t.fix(t.root, dl, id, c, q)
}

func (t *treap) fix(n int32, dl int64, id sdk.TaskID, c int64, q bool) {
	if n == 0 {
		return
	}
	x := &t.nodes[n]
	switch {
	case dl == x.dl && id == x.id:
		x.c, x.q = c, q
	case t.before(dl, id, n):
		t.fix(x.l, dl, id, c, q)
	default:
		t.fix(x.r, dl, id, c, q)
	}
	t.pull(n)
}

// sum is the demand of the whole set.
func (t *treap) sum() int64 { return t.nodes[t.root].sum }

// maxFrom is the max of f(v) over the nodes with deadline ≥ d, or −∞, and
// the demand due strictly before d.
func (t *treap) maxFrom(d int64) (best float64, before int64) {
	best = negInf
	var off int64 // Σ c of every node before the subtree of n
	for n := t.root; n != 0; {
		x := &t.nodes[n]
		l := &t.nodes[x.l]
		if x.dl >= d { // n and its right subtree are in range
			own := float64(off + l.sum + x.c)
			best = max(best, own-t.rate*float64(x.dl), own+t.nodes[x.r].mx)
			n = x.l
		} else {
			off += l.sum + x.c
			n = x.r
		}
	}
	return best, off
}

// fits reports whether adding a task of remaining c and deadline d keeps
// D(t) + c ≤ rate·(t − now) at t = d and at every deadline t ≥ d of the
// set. One descent gives both the range max over deadlines ≥ d and the
// demand due before d: if the set has a deadline equal to d, its f covers
// t = d; if not, D(d) is the demand due before d.
func (t *treap) fits(d, c, now int64) bool {
	mx, before := t.maxFrom(d)
	if float64(before+c) > t.rate*float64(d-now) {
		return false
	}
	return mx+float64(c) <= -t.rate*float64(now)
}

// firstOver returns the first node, in key order, with deadline ≥ from
// whose f exceeds thr, or 0.
func (t *treap) firstOver(from int64, thr float64) int32 {
	return t.firstOverIn(t.root, 0, from, thr)
}

func (t *treap) firstOverIn(n int32, off int64, from int64, thr float64) int32 {
	for n != 0 {
		x := &t.nodes[n]
		if x.dl < from { // n and its left subtree are out of range
			off += t.nodes[x.l].sum + x.c
			n = x.r
			continue
		}
		if v := t.firstOverIn(x.l, off, from, thr); v != 0 {
			return v
		}
		own := off + t.nodes[x.l].sum + x.c
		if float64(own)-t.rate*float64(x.dl) > thr {
			return n
		}
		return t.firstOverAll(x.r, own, thr) // wholly in range
	}
	return 0
}

// firstOverAll is firstOver for a subtree wholly in range: it descends
// only where the aggregate says a node exceeds thr.
func (t *treap) firstOverAll(n int32, off int64, thr float64) int32 {
	for n != 0 && float64(off)+t.nodes[n].mx > thr {
		x := &t.nodes[n]
		if l := x.l; l != 0 && float64(off)+t.nodes[l].mx > thr {
			n = l
			continue
		}
		own := off + t.nodes[x.l].sum + x.c
		if float64(own)-t.rate*float64(x.dl) > thr {
			return n
		}
		off, n = own, x.r
	}
	return 0
}

// lastFlagged returns the last flagged node, in key order, with deadline
// ≤ d, or 0.
func (t *treap) lastFlagged(d int64) int32 {
	return t.lastFlaggedIn(t.root, d)
}

func (t *treap) lastFlaggedIn(n int32, d int64) int32 {
	for n != 0 && t.nodes[n].cnt > 0 {
		x := &t.nodes[n]
		if x.dl > d { // n and its right subtree are out of range
			n = x.l
			continue
		}
		if v := t.lastFlaggedIn(x.r, d); v != 0 {
			return v
		}
		if x.q {
			return n
		}
		return t.lastFlaggedAll(x.l)
	}
	return 0
}

func (t *treap) lastFlaggedAll(n int32) int32 {
	for n != 0 && t.nodes[n].cnt > 0 {
		x := &t.nodes[n]
		switch {
		case t.nodes[x.r].cnt > 0:
			n = x.r
		case x.q:
			return n
		default:
			n = x.l
		}
	}
	return 0
}

// headroom is the machine's demand slack at its tightest deadline: 1 −
// max over deadlines t of D(t) / (rate·(t − now)), in [0, 1]; 1 for an
// empty set, 0 once a deadline is due or fully promised. It is the share
// of the capacity until that deadline that Admit could still give a new
// task due then. The fraction is not an aggregate the nodes keep, so this
// walks the set in key order: O(n), called at scrape and agent-check time
// (one walk per poll), never on the scheduling path.
func (t *treap) headroom(now int64) float64 {
	worst := 0.0
	var prefix int64
	stack := make([]int32, 0, 64)
	for n := t.root; n != 0 || len(stack) > 0; {
		for ; n != 0; n = t.nodes[n].l {
			stack = append(stack, n)
		}
		n, stack = stack[len(stack)-1], stack[:len(stack)-1]
		x := &t.nodes[n]
		prefix += x.c
		if x.dl <= now {
			return 0
		}
		worst = max(worst, float64(prefix)/(t.rate*float64(x.dl-now)))
		n = x.r
	}
	return min(1, max(0, 1-worst))
}
