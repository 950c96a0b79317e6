package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// rewriteJSON copies raw, replacing the string values at the given paths
// (as Decode names them). Everything else is kept byte for byte — key
// order, spacing, number forms — so a redacted result differs from the
// original only where something was redacted.
func rewriteJSON(raw []byte, repl map[string]string) ([]byte, error) {
	rw := rewriter{in: raw, repl: repl, out: make([]byte, 0, len(raw)+64)}
	rw.space()
	if err := rw.value("$", 0); err != nil {
		return nil, err
	}
	rw.space()
	if rw.pos != len(rw.in) {
		return nil, errors.New("trailing data after JSON value")
	}
	return rw.out, nil
}

type rewriter struct {
	in   []byte
	pos  int
	out  []byte
	repl map[string]string
}

var errBadJSON = errors.New("malformed JSON")

func (rw *rewriter) space() {
	start := rw.pos
	for rw.pos < len(rw.in) && (rw.in[rw.pos] == ' ' || rw.in[rw.pos] == '\t' || rw.in[rw.pos] == '\n' || rw.in[rw.pos] == '\r') {
		rw.pos++
	}
	rw.out = append(rw.out, rw.in[start:rw.pos]...)
}

// str returns the extent of the string starting at pos (quotes included).
func (rw *rewriter) str() ([]byte, error) {
	start := rw.pos
	i := rw.pos + 1
	for i < len(rw.in) {
		switch rw.in[i] {
		case '\\':
			i += 2
			continue
		case '"':
			rw.pos = i + 1
			return rw.in[start:rw.pos], nil
		}
		i++
	}
	return nil, errBadJSON
}

func (rw *rewriter) value(path string, depth int) error {
	if depth > maxDepth {
		return ErrTooDeep
	}
	if rw.pos >= len(rw.in) {
		return errBadJSON
	}
	switch rw.in[rw.pos] {
	case '"':
		s, err := rw.str()
		if err != nil {
			return err
		}
		if r, ok := rw.repl[path]; ok {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(r); err != nil {
				return err
			}
			rw.out = append(rw.out, bytes.TrimRight(b.Bytes(), "\n")...)
		} else {
			rw.out = append(rw.out, s...)
		}
		return nil
	case '{':
		rw.out = append(rw.out, '{')
		rw.pos++
		rw.space()
		if rw.pos < len(rw.in) && rw.in[rw.pos] == '}' {
			rw.out = append(rw.out, '}')
			rw.pos++
			return nil
		}
		for {
			if rw.pos >= len(rw.in) || rw.in[rw.pos] != '"' {
				return errBadJSON
			}
			k, err := rw.str()
			if err != nil {
				return err
			}
			rw.out = append(rw.out, k...)
			key := string(k[1 : len(k)-1])
			if bytes.IndexByte(k, '\\') >= 0 {
				if err := json.Unmarshal(k, &key); err != nil {
					return err
				}
			}
			rw.space()
			if rw.pos >= len(rw.in) || rw.in[rw.pos] != ':' {
				return errBadJSON
			}
			rw.out = append(rw.out, ':')
			rw.pos++
			rw.space()
			if err := rw.value(path+"."+key, depth+1); err != nil {
				return err
			}
			rw.space()
			if rw.pos >= len(rw.in) {
				return errBadJSON
			}
			c := rw.in[rw.pos]
			rw.out = append(rw.out, c)
			rw.pos++
			if c == '}' {
				return nil
			}
			if c != ',' {
				return errBadJSON
			}
			rw.space()
		}
	case '[':
		rw.out = append(rw.out, '[')
		rw.pos++
		rw.space()
		if rw.pos < len(rw.in) && rw.in[rw.pos] == ']' {
			rw.out = append(rw.out, ']')
			rw.pos++
			return nil
		}
		for i := 0; ; i++ {
			if err := rw.value(path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
			rw.space()
			if rw.pos >= len(rw.in) {
				return errBadJSON
			}
			c := rw.in[rw.pos]
			rw.out = append(rw.out, c)
			rw.pos++
			if c == ']' {
				return nil
			}
			if c != ',' {
				return errBadJSON
			}
			rw.space()
		}
	default:
		start := rw.pos
	literal:
		for rw.pos < len(rw.in) {
			switch rw.in[rw.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				break literal
			}
			rw.pos++
		}
		if rw.pos == start {
			return errBadJSON
		}
		rw.out = append(rw.out, rw.in[start:rw.pos]...)
		return nil
	}
}
