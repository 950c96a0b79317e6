package scan

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxYAMLNodes bounds alias expansion ("billion laughs") while converting.
const maxYAMLNodes = 1_000_000

func parseYAML(text []byte) (*node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, yamlError(err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, errEmpty
	}
	budget := maxYAMLNodes
	return fromYAML(doc.Content[0], &budget, 0)
}

// yamlError turns "yaml: line N: msg" into a structured ParseError.
func yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return &ParseError{Msg: strings.Join(te.Errors, "; ")}
	}
	msg := err.Error()
	var line int
	if _, scanErr := fmt.Sscanf(msg, "yaml: line %d:", &line); scanErr == nil {
		if i := strings.Index(msg, ": "); i >= 0 {
			if j := strings.Index(msg[i+2:], ": "); j >= 0 {
				msg = msg[i+2+j+2:]
			}
		}
		return &ParseError{Line: line, Column: 1, Msg: msg}
	}
	return &ParseError{Msg: strings.TrimPrefix(msg, "yaml: ")}
}

var errYAMLTooLarge = &ParseError{Msg: fmt.Sprintf("document expands to more than %d values (alias bomb?)", maxYAMLNodes)}

func fromYAML(y *yaml.Node, budget *int, depth int) (*node, error) {
	*budget--
	if *budget < 0 {
		return nil, errYAMLTooLarge
	}
	if depth > maxDepth {
		return nil, &ParseError{Line: y.Line, Column: y.Column, Msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	switch y.Kind {
	case yaml.AliasNode:
		if y.Alias == nil {
			return &node{kind: kNull, line: y.Line}, nil
		}
		return fromYAML(y.Alias, budget, depth+1)
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{kind: kNull, line: y.Line}, nil
		}
		return fromYAML(y.Content[0], budget, depth+1)
	case yaml.MappingNode:
		n := &node{kind: kObject, line: y.Line}
		// A merge key (<<: *base or <<: [*a, *b]) never overrides the
		// mapping's own keys, wherever it is written, and earlier merged
		// maps win over later ones. Appending merged members where << stood
		// let `command: mine` followed by `<<: *base` report base's command.
		own := map[string]bool{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			if k := y.Content[i]; k.Tag != "!!merge" {
				own[k.Value] = true
			}
		}
		merged := map[string]bool{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			val, err := fromYAML(v, budget, depth+1)
			if err != nil {
				return nil, err
			}
			if k.Tag == "!!merge" && (val.kind == kObject || val.kind == kArray) {
				from := []*node{val}
				if val.kind == kArray {
					from = val.items
				}
				for _, src := range from {
					for _, m := range src.members {
						if !own[m.key] && !merged[m.key] {
							merged[m.key] = true
							n.members = append(n.members, m)
						}
					}
				}
				continue
			}
			n.members = append(n.members, member{key: k.Value, line: k.Line, val: val})
		}
		return n, nil
	case yaml.SequenceNode:
		n := &node{kind: kArray, line: y.Line}
		for _, c := range y.Content {
			val, err := fromYAML(c, budget, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, val)
		}
		return n, nil
	default:
		switch y.ShortTag() {
		case "!!null":
			return &node{kind: kNull, line: y.Line}, nil
		case "!!bool":
			n := scalar(kBool, y.Line, strings.ToLower(y.Value))
			n.boolean = y.Value == "true" || y.Value == "True" || y.Value == "TRUE"
			return n, nil
		case "!!int", "!!float":
			return scalar(kNumber, y.Line, y.Value), nil
		}
		return scalar(kString, y.Line, y.Value), nil
	}
}
