package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// rewriteJSON copies raw, replacing the string values at the given paths
// (as Decode names them). Everything else is kept byte for byte — key
// order, spacing, number forms — so a redacted result differs from the
// original only where something was redacted.
func rewriteJSON(raw []byte, repl map[string]string) ([]byte, error) {
	rw := rewriter{in: raw, repl: repl, out: make([]byte, 0, len(raw)+64)}
	for k := range repl {
		if strings.HasPrefix(k, keyMark) {
			rw.keys = true
			break
		}
	}
	rw.space()
	if err := rw.value("$", "", 0, 0); err != nil {
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
	keys bool // repl renames object keys
	// collect, when set, makes the pass collect leaves instead of writing.
	collect *walker
}

// keyMark prefixes the path of an object key in a replacement map: a key
// and its value share one path.
const keyMark = "\x00key:"

// collectLeaves fills w.p.Leaves from raw (valid JSON) in document order,
// without building the decoded value.
func collectLeaves(raw []byte, w *walker) error {
	rw := rewriter{in: raw, collect: w}
	rw.space()
	return rw.value("$", "", 0, 0)
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

// value copies (or collects) the value at pos. up is 1 + the index of
// the key leaf of the enclosing member, 0 at the top.
func (rw *rewriter) value(path, key string, up, depth int) error {
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
			rw.collect.add(Leaf{Path: path, Key: key, Value: v, up: up})
			if key == "blob" {
				rw.collect.p.hasBlob = true
			}
			return nil
		}
		if r, ok := rw.repl[path]; ok {
			if err := rw.emitString(r); err != nil {
				return err
			}
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
		var names []string // keys written, when keys are renamed
		for {
			if rw.pos >= len(rw.in) || rw.in[rw.pos] != '"' {
				return errBadJSON
			}
			k, err := rw.str()
			if err != nil {
				return err
			}
			key, err := unquote(k)
			if err != nil {
				return err
			}
			child := path + "." + key
			childUp := up
			switch {
			case rw.collect != nil:
				// Keys of up to 3 bytes cannot hold an email, a card or a
				// credential.
				if len(key) > 3 {
					if i := rw.collect.add(Leaf{Path: child, Key: key, Value: key, IsKey: true, up: up}); i >= 0 {
						childUp = i + 1
					}
				}
			case rw.keys:
				name := key
				if r, ok := rw.repl[keyMark+child]; ok {
					name = r
					// Masked keys must stay distinct: [REDACTED:email]#2.
					for n := 2; slices.Contains(names, name); n++ {
						name = r + "#" + strconv.Itoa(n)
					}
					if err := rw.emitString(name); err != nil {
						return err
					}
				} else {
					rw.emit(k...)
				}
				names = append(names, name)
			default:
				rw.emit(k...)
			}
			rw.space()
			if rw.pos >= len(rw.in) || rw.in[rw.pos] != ':' {
				return errBadJSON
			}
			rw.emit(':')
			rw.pos++
			rw.space()
			if err := rw.value(child, key, childUp, depth+1); err != nil {
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
			if err := rw.value(path+"["+strconv.Itoa(i)+"]", key, up, depth+1); err != nil {
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

// emitString writes s as a JSON string.
func (rw *rewriter) emitString(s string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	rw.out = append(rw.out, bytes.TrimRight(b.Bytes(), "\n")...)
	return nil
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
