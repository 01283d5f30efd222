package apispec

import (
	"maps"
	"slices"
)

// sortedKeys returns the keys of m in order, so that walks over the
// document are deterministic.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
