package emulator

import (
	"net/http"
	"testing"
)

func TestRunSmoke(t *testing.T) {
	e := newEnv(t)
	e.put("hello.txt", []byte("hi\n"))
	status, resp, b := e.run("pwd; cat hello.txt; echo $HOME; ls -la /home", 0, nil)
	if status != http.StatusOK {
		t.Fatalf("run: %d %s", status, b)
	}
	t.Logf("%+v", resp)
}
