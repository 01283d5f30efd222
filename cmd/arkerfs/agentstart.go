package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/arker-ai/arkerfs/agent/agentclient"
	"github.com/arker-ai/arkerfs/fs"
	"github.com/arker-ai/arkerfs/transport"
)

// agentInstallTimeout bounds the install and start of the agent; the mount
// serves through runs meanwhile.
const agentInstallTimeout = 2 * time.Minute

// agentByeTimeout bounds the goodbye to the agent at unmount.
const agentByeTimeout = 10 * time.Second

// mountAgent is a mount's agent: started by start, ended by stop.
type mountAgent struct {
	ctx    context.Context // ends at stop: the install and the change feed stop with it
	cancel context.CancelFunc
	conn   atomic.Pointer[agentclient.Conn] // once installed
}

func newMountAgent() *mountAgent {
	ctx, cancel := context.WithCancel(context.Background())
	return &mountAgent{ctx: ctx, cancel: cancel}
}

// start installs and starts the agent on the VM for a mount of root and,
// once it answers, makes the client use it and fsys follow its change
// feed until stop. Whatever happens, the log says once which path
// metadata takes, and lock's file (arkerfs status) says it whenever it
// changes.
func (a *mountAgent) start(client *transport.Client, fsys *fs.FS, root string, timeout time.Duration, log *slog.Logger, lock *serverLock) {
	ctx, cancel := context.WithTimeout(a.ctx, max(agentInstallTimeout, timeout))
	defer cancel()
	conn, err := agentclient.Install(ctx, client, agentclient.Options{
		Root: root, Version: buildVersion(), Dial: ingressDial(client.Config().BaseURL),
	})
	if err != nil {
		log.Info("metadata goes through runs: the agent is not available", "reason", err.Error())
		return
	}
	a.conn.Store(conn)
	log.Info("metadata goes through the agent", "agent", conn.Describe())
	lock.setMetadata(conn.Describe())
	agentclient.Serve(a.ctx, client, conn, fsys, func(format string, args ...any) {
		log.Warn(fmt.Sprintf(format, args...))
		lock.setMetadata(metadataPath(client))
	})
}

// stop ends the change feed and tells the agent the mount ended, so that
// the mount's secret on the VM is removed. An agent that cannot be told
// keeps the file, which opens nothing but this mount's id.
func (a *mountAgent) stop(client *transport.Client, log *slog.Logger) {
	a.cancel()
	conn := a.conn.Load()
	if conn == nil {
		return
	}
	client.UseMetaServer(nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), agentByeTimeout)
	defer cancel()
	if err := conn.Bye(ctx); err != nil {
		log.Warn("could not tell the agent the mount ended; its file stays on the VM", "reason", err.Error())
	}
	conn.Close()
}

// metadataPath says which path the client's metadata takes, for
// arkerfs status.
func metadataPath(client *transport.Client) string {
	if s := client.MetaServerInUse(); s != "" {
		return s
	}
	return "runs"
}

// ingressDial is where the VM's inbound hostname is reached: at the API's
// own address when the API is on this machine (the emulator serves the
// VM's ingress there), else through DNS ("").
func ingressDial(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		if u.Port() == "" {
			return net.JoinHostPort(host, map[string]string{"http": "80", "https": "443"}[u.Scheme])
		}
		return u.Host
	}
	return ""
}
