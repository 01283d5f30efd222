package integration

import (
	"os"
	"sync"
	"testing"

	"github.com/arker-ai/arkerfs/apispec"
	"github.com/arker-ai/arkerfs/wire"
)

// lineageEnv selects the API lineage the integration tests' emulator
// speaks: "a" (the default) or "b". `make test` runs the suite in both.
const lineageEnv = "ARKERFS_TEST_API"

// testLineage is the lineage of this run.
func testLineage(t testing.TB) wire.Lineage {
	switch l := os.Getenv(lineageEnv); l {
	case "", "a":
		return wire.LineageA
	case "b":
		return wire.LineageB
	default:
		t.Fatalf("%s=%q: want a or b", lineageEnv, l)
		return ""
	}
}

// loadedSpecs holds the API document, loaded once per lineage.
var loadedSpecs struct {
	sync.Mutex
	m map[wire.Lineage]*apispec.Spec
}

// contract returns a validator of the published API for this run's
// lineage, whose violations fail t at cleanup: every request the mount
// sends and every answer the emulator gives is checked.
func contract(t testing.TB) *apispec.Spec {
	t.Helper()
	l := testLineage(t)
	loadedSpecs.Lock()
	base := loadedSpecs.m[l]
	if base == nil {
		var err error
		if base, err = apispec.Load(l); err != nil {
			loadedSpecs.Unlock()
			t.Fatalf("loading the API document: %v", err)
		}
		if loadedSpecs.m == nil {
			loadedSpecs.m = map[wire.Lineage]*apispec.Spec{}
		}
		loadedSpecs.m[l] = base
	}
	loadedSpecs.Unlock()
	spec := base.Clone()
	t.Cleanup(func() {
		for _, v := range spec.Violations() {
			t.Errorf("contract violation: %s", v)
		}
	})
	return spec
}
