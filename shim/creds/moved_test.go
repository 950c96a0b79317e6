package creds

import (
	"slices"
	"strings"
	"testing"
)

func TestAppendArgs(t *testing.T) {
	args := []string{"-y", "pkg@1", "--api-key=", "--token", ""}
	got, err := AppendArgs(args, []string{"2=sk-1", "4=ghp_2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"-y", "pkg@1", "--api-key=sk-1", "--token", "ghp_2"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if args[2] != "--api-key=" {
		t.Errorf("the caller's args changed: %q", args)
	}
	_, err = AppendArgs(args, []string{"5=sk-secret-value"})
	if err == nil || !strings.Contains(err.Error(), "--secret-arg 5") || strings.Contains(err.Error(), "sk-secret-value") {
		t.Errorf("out of range: %v", err)
	}
}
