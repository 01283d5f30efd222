package emulator

// The spawner's protocol. The emulator sends requests; the spawner answers
// each once, by ID, and sends a start's exit later under the same ID.
//
//   - makeNS (Hosts, Steps, ForceUserNS): make a sandbox's namespace;
//     its ID names it from then on. Err gives the reasons none can be made.
//   - start (NS, Spec; stdout and stderr as descriptors): start a run in
//     namespace NS. The answer has its Pid or an Err; once it ended, an
//     answer with Exited and its wait Status (or an Err) follows.
//   - release (NS): forget namespace NS; runs started in it go on.

// spawnOp is what a request asks.
type spawnOp uint8

const (
	spawnMakeNS spawnOp = iota + 1
	spawnStart
	spawnRelease
)

// spawnRequest is a request to the spawner.
type spawnRequest struct {
	ID uint64
	Op spawnOp
	NS uint64 // start, release: the ID of the makeNS request

	Hosts       []string    // makeNS: the mappings' host directories
	Steps       []spawnStep // makeNS: the plan that shows them
	ForceUserNS bool        // makeNS: skip the namespace thread (tests)

	Spec runSpec // start
}

// spawnStep is a mountStep as it travels.
type spawnStep struct {
	Kind mountKind
	Path string
	Src  int
}

// spawnAnswer is the spawner's answer to the request ID.
type spawnAnswer struct {
	ID     uint64
	Err    string // the request failed: why
	Pid    int    // start: the process, which leads its own group
	Exited bool   // start: the process ended
	Status uint32 // with Exited: its wait status
}

func stepsToWire(steps []mountStep) []spawnStep {
	out := make([]spawnStep, len(steps))
	for i, st := range steps {
		out[i] = spawnStep{Kind: st.kind, Path: st.path, Src: st.src}
	}
	return out
}

func stepsFromWire(steps []spawnStep) []mountStep {
	out := make([]mountStep, len(steps))
	for i, st := range steps {
		out[i] = mountStep{kind: st.Kind, path: st.Path, src: st.Src}
	}
	return out
}
