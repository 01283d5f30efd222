package integration

import (
	"os"
	"testing"
	"time"
)

func TestVMChangesVisibleAfterTTL(t *testing.T) {
	ttl := 300 * time.Millisecond
	e := newEnv(t, withTTL(ttl))
	e.write("f", []byte("old"))
	if _, err := os.ReadDir(e.mnt); err != nil {
		t.Fatal(err)
	}
	e.vmRun("printf new > /home/user/f && mkdir /home/user/made-in-vm && printf x > '/home/user/made-in-vm/a b'")
	eventually(t, 10*ttl+5*time.Second, "VM edit visible", func() bool {
		b, err := os.ReadFile(e.path("f"))
		return err == nil && string(b) == "new"
	})
	eventually(t, 10*ttl+5*time.Second, "VM-made file visible", func() bool {
		b, err := os.ReadFile(e.path("made-in-vm/a b"))
		return err == nil && string(b) == "x"
	})
	e.vmRun("rm -r /home/user/made-in-vm")
	eventually(t, 10*ttl+5*time.Second, "VM removal visible", func() bool {
		_, err := os.Stat(e.path("made-in-vm"))
		return os.IsNotExist(err)
	})
}

func TestOwnChangesVisibleAtOnce(t *testing.T) {
	e := newEnv(t, withTTL(time.Hour))
	if _, err := os.ReadDir(e.mnt); err != nil {
		t.Fatal(err)
	}
	e.write("new", []byte("1"))
	ents, _ := os.ReadDir(e.mnt)
	if len(ents) != 1 || ents[0].Name() != "new" {
		t.Fatalf("listing after create: %v", ents)
	}
	os.Remove(e.path("new"))
	if ents, _ := os.ReadDir(e.mnt); len(ents) != 0 {
		t.Fatalf("listing after remove: %v", ents)
	}
}
