package gateway

// finishStack is the stack a streamed answer's finishing needs (the post
// guardrails, the policy's facts, the audit record): measured under
// 16 KiB on the governed path (see growStack).
const finishStack = 8 << 10

// growStack grows the calling goroutine's stack, in one step, to what
// finishing an answer needs, while the stack is still shallow.
//
// Each streamed answer is read on a goroutine of its own (the HTTP
// upstream's), which starts with a small stack; finishing the answer on it
// then grew that stack twice, each time copying and re-walking some twenty
// frames (7% of a governed call's CPU). A frame of finishStack bytes
// placed here, a few frames deep, makes the runtime allocate the larger
// stack at once, when copying it is cheap; a goroutine whose stack is
// large enough already only clears the frame.
//
//go:noinline
func growStack() {
	var pad [finishStack]byte
	keepFrame(&pad)
}

// keepFrame keeps growStack's frame from being optimised away; it does
// not let the array escape to the heap.
//
//go:noinline
func keepFrame(p *[finishStack]byte) { p[0] = 1 }
