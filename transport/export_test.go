package transport

// Internals the external tests check directly.
var (
	EntrySize    = entrySize
	PlanBatches  = planBatches
	EnvelopeSize = len(envelopeHead) + len(envelopeTail)
)
