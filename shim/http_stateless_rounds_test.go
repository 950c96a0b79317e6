package shim

import (
	"encoding/json"
	"strconv"
	"testing"
)

// TestStatelessRoundsEvictOldest: past maxPassedStates, the state noted
// first is the one forgotten; a call's recent state keeps its count (an
// arbitrary one dropped could be any call's, which reset its rounds).
func TestStatelessRoundsEvictOldest(t *testing.T) {
	st := &statelessUp{}
	for i := range maxPassedStates {
		st.noteRounds("s"+strconv.Itoa(i), i%maxInputRounds+1)
	}
	st.noteRounds("new", 3)
	if n := st.takeRounds(json.RawMessage(`{"requestState":"s0"}`)); n != 0 {
		t.Errorf("the oldest state kept its rounds (%d)", n)
	}
	for i := 1; i < maxPassedStates; i++ {
		if n := st.takeRounds(json.RawMessage(`{"requestState":"s` + strconv.Itoa(i) + `"}`)); n != i%maxInputRounds+1 {
			t.Fatalf("state s%d has %d rounds, want %d: a state newer than the oldest was dropped", i, n, i%maxInputRounds+1)
		}
	}
	if n := st.takeRounds(json.RawMessage(`{"requestState":"new"}`)); n != 3 {
		t.Errorf("the newest state has %d rounds, want 3", n)
	}
	// A state taken is forgotten, and makes room.
	if n := st.takeRounds(json.RawMessage(`{"requestState":"new"}`)); n != 0 {
		t.Errorf("a state taken twice gave %d rounds", n)
	}
}
