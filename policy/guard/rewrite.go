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
	if err := rw.value("$", "", 0); err != nil {
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
	// collect, when set, makes the pass collect leaves instead of writing.
	collect *walker
}

// collectLeaves fills w.p.Leaves from raw (valid JSON) in document order,
// without building the decoded value.
func collectLeaves(raw []byte, w *walker) error {
	rw := rewriter{in: raw, collect: w}
	rw.space()
	return rw.value("$", "", 0)
}

func unquote(s []byte) (string, error) {
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s[1 : len(s)-1]), nil
	}
	var v string
	err := json.Unmarshal(s, &v)
	return v, err
}

var errBadJSON = errors.New("malformed JSON")

func (rw *rewriter) space() {
	start := rw.pos
	for rw.pos < len(rw.in) && (rw.in[rw.pos] == ' ' || rw.in[rw.pos] == '\t' || rw.in[rw.pos] == '\n' || rw.in[rw.pos] == '\r') {
		rw.pos++
	}
	if rw.collect == nil {
		rw.out = append(rw.out, rw.in[start:rw.pos]...)
	}
}

func (rw *rewriter) emit(b ...byte) {
	if rw.collect == nil {
		rw.out = append(rw.out, b...)
	}
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

func (rw *rewriter) value(path, key string, depth int) error {
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
		if rw.collect != nil {
			v, err := unquote(s)
			if err != nil {
				return err
			}
			rw.collect.add(Leaf{Path: path, Key: key, Value: v})
			return nil
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
		rw.emit('{')
		rw.pos++
		rw.space()
		if rw.pos < len(rw.in) && rw.in[rw.pos] == '}' {
			rw.emit('}')
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
			rw.emit(k...)
			key, err := unquote(k)
			if err != nil {
				return err
			}
			child := path + "." + key
			if rw.collect != nil && len(key) > 3 {
				rw.collect.add(Leaf{Path: child, Key: key, Value: key, IsKey: true})
			}
			rw.space()
			if rw.pos >= len(rw.in) || rw.in[rw.pos] != ':' {
				return errBadJSON
			}
			rw.emit(':')
			rw.pos++
			rw.space()
			if err := rw.value(child, key, depth+1); err != nil {
				return err
			}
			if done, err := rw.next('}'); done || err != nil {
				return err
			}
		}
	case '[':
		rw.emit('[')
		rw.pos++
		rw.space()
		if rw.pos < len(rw.in) && rw.in[rw.pos] == ']' {
			rw.emit(']')
			rw.pos++
			return nil
		}
		for i := 0; ; i++ {
			if err := rw.value(path+"["+strconv.Itoa(i)+"]", key, depth+1); err != nil {
				return err
			}
			if done, err := rw.next(']'); done || err != nil {
				return err
			}
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
		rw.emit(rw.in[start:rw.pos]...)
		return nil
	}
}

// next reads what follows a member or an element: true at the closing
// delimiter, an error for anything but a comma.
func (rw *rewriter) next(closing byte) (bool, error) {
	rw.space()
	if rw.pos >= len(rw.in) {
		return false, errBadJSON
	}
	c := rw.in[rw.pos]
	rw.emit(c)
	rw.pos++
	if c == closing {
		return true, nil
	}
	if c != ',' {
		return false, errBadJSON
	}
	rw.space()
	return false, nil
}
