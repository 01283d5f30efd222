package emulator

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	ServeSpawnerIfAsked()
	os.Exit(m.Run())
}
