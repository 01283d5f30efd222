package transport_test

import (
	"net/http"
	"testing"

	"github.com/arker-ai/arkerfs/apispec"
	"github.com/arker-ai/arkerfs/wire"
)

// Every emulator of this package's tests checks each request the client
// sends and each answer it gives against docs/arker-api.yaml.
func init() {
	apiValidator = func(t testing.TB, lin wire.Lineage) func(http.Handler) http.Handler {
		spec, err := apispec.Load(lin)
		if err != nil {
			t.Fatalf("loading the API document: %v", err)
		}
		t.Cleanup(func() {
			for _, v := range spec.Violations() {
				t.Errorf("contract violation: %s", v)
			}
		})
		return spec.Middleware
	}
}
