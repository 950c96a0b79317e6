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

func TestFillURL(t *testing.T) {
	got, err := FillURL("https://mcp.example.com/v1?region=eu&api_key=&x=1#f", []string{"api_key=sk%2Fv=1"}, "bob:pw")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://bob:pw@mcp.example.com/v1?region=eu&api_key=sk%2Fv=1&x=1#f"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for _, c := range []struct {
		url, query, want string
	}{
		{"https://h/mcp", "k=secret-value", "--secret-query k: the URL has no query"},
		{"https://h/mcp?k=already", "k=secret-value", "--secret-query k: the URL has no empty k= parameter"},
	} {
		_, err := FillURL(c.url, []string{c.query}, "")
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret-value") {
			t.Errorf("%s: %v", c.url, err)
		}
	}
}
