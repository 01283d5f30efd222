package emulator

import (
	"os"
	"testing"
)

// spawnerParentEnv makes this test binary a process that starts a
// spawner, prints its pid and waits to be killed (see
// TestSpawnerEndsWithItsParent).
const spawnerParentEnv = "ARKER_EMULATOR_TEST_SPAWNER_PARENT"

func TestMain(m *testing.M) {
	ServeSpawnerIfAsked()
	if os.Getenv(spawnerParentEnv) != "" {
		os.Exit(beSpawnerParent())
	}
	os.Exit(m.Run())
}
