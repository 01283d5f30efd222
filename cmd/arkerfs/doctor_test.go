package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/arker-ai/arkerfs/emulator"
	"github.com/arker-ai/arkerfs/wire"
)

// TestDoctor runs `arkerfs doctor` against the emulator in each lineage,
// with Range on presigned reads honoured or not, and checks that it tells
// each apart.
func TestDoctor(t *testing.T) {
	for _, c := range []struct {
		lineage      wire.Lineage
		noRange      bool
		api, stream  string
		rangeVerdict string
	}{
		{wire.LineageA, false, "lineage A", "not offered", "honour Range"},
		{wire.LineageB, true, "lineage B", "offered: large files", "ignore Range"},
	} {
		t.Run(string(c.lineage), func(t *testing.T) {
			emu := doctorEmulator(t, "ark_test_doctor", emulator.Options{Lineage: c.lineage, NoRange: c.noRange})
			var out, errb bytes.Buffer
			if code := run([]string{"doctor", "local"}, &out, &errb); code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
			}
			for _, want := range []string{c.api, "sync-stream: " + c.stream, "session 0 is never used", c.rangeVerdict} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("doctor does not say %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String()+errb.String(), "ark_test_doctor") {
				t.Errorf("the key appears in the output")
			}
			if n := emu.Stats().Requests[emulator.EndpointRunsCreate]; n == 0 {
				t.Errorf("doctor ran nothing on the VM")
			}
		})
	}
	t.Run("bad key", func(t *testing.T) {
		doctorEmulator(t, "ark_wrong", emulator.Options{})
		var out, errb bytes.Buffer
		if code := run([]string{"doctor", "local"}, &out, &errb); code != 1 || strings.Count(errb.String(), "\n") != 1 {
			t.Fatalf("exit %d, stderr %q", code, errb.String())
		}
	})
}

// doctorEmulator starts an emulator with opts whose key is ark_test_doctor
// and points the environment at it with key: a fresh HOME,
// ARKER_API_KEY and ARKER_BASE_URL.
func doctorEmulator(t *testing.T, key string, opts emulator.Options) *emulator.Server {
	t.Helper()
	opts.Home, opts.Token = t.TempDir(), "ark_test_doctor"
	emu, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	url, err := emu.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	t.Setenv("HOME", t.TempDir())
	t.Setenv("ARKER_API_KEY", key)
	t.Setenv("ARKER_BASE_URL", url)
	return emu
}
