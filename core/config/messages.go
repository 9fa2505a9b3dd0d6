package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The TOML parser's own words for a duplicate, rewritten in ours: the
// key, its table and where it was first defined.
var duplicateKey = regexp.MustCompile(`^Key '(.+)' has already been defined\.?$`)

// parseMessage is the text for a TOML parse error at line: the parser's
// message, except duplicates, which name the key and its first line.
func parseMessage(data []byte, msg string, line int) string {
	m := duplicateKey.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	parts := strings.Split(m[1], ".")
	key, table := parts[len(parts)-1], parts[:len(parts)-1]
	out := fmt.Sprintf("key %q is defined twice", key)
	if len(table) > 0 {
		out += " in [" + strings.Join(table, ".") + "]"
	}
	if first := firstDefinition(data, parts, line); first > 0 {
		out += fmt.Sprintf(" (first on line %d)", first)
	}
	return out
}

// firstDefinition is the last line before line where the key at the
// unindexed path is defined (in whichever table array element), or 0.
func firstDefinition(data []byte, path []string, line int) (first int) {
	defer func() {
		if recover() != nil { // the locator expects valid TOML; this is not
			first = 0
		}
	}()
	for k, at := range locate(string(data)).pos {
		var unindexed []string
		for _, p := range strings.Split(k, "\x00") {
			if _, err := strconv.Atoi(p); err != nil {
				unindexed = append(unindexed, p)
			}
		}
		if slices.Equal(unindexed, path) && at.line < line && at.line > first {
			first = at.line
		}
	}
	return first
}

// didYouMean suggests the known key nearest to an unknown one, when it is
// near enough to be a typo: " (did you mean \"workers\"?)" or "".
func didYouMean(key string, known []string) string {
	best, bestDist := "", len(key)/3+1 // at most a third of the key's letters wrong
	slices.Sort(known)                 // ties go to the first in order
	for _, k := range known {
		if d := editDistance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// movedKeys are keys that moved, by kindKey, with where they are now: an
// old config gets told where to write them.
var movedKeys = map[string]string{
	"tenant.replenishment_period": "[tenant.policy.mtds] replenishment_period",
	"tenant.max_budget":           "[tenant.policy.mtds] max_budget",
	"tenant.reservation":          "[tenant.policy.mtdbf] reservation",
}

// kindKey is a key path without its array indices: "tenant.max_budget"
// for every tenant's max_budget.
func kindKey(path []string) string {
	var kind []string
	for _, p := range path {
		if _, err := strconv.Atoi(p); err != nil {
			kind = append(kind, p)
		}
	}
	return strings.Join(kind, ".")
}
