package libinjection

import "strings"

//nolint:gocyclo // complexity 12, reduction tracked in #122
func parseQStringCore(s *sqliState, offset int) int {
	pos := s.pos + offset

	// if we are already at the end of the string
	// if current byte is not q or Q
	// if we don't have 2 more bytes
	// if byte[2] != a single quote
	// then, just treat as word
	if pos >= s.length || (s.input[pos] != 'q' && s.input[pos] != 'Q') || pos+2 >= s.length || s.input[pos+1] != byteSingle {
		return parseWord(s)
	}

	ch := s.input[pos+2]
	// upstream C relies on char being signed so that bytes >= 0x80 fail the
	// ch < 33 check; Go bytes are unsigned, so check the upper bound explicitly
	if ch < 33 || ch > 127 {
		return parseWord(s)
	}

	switch ch {
	case '(':
		ch = ')'
	case '[':
		ch = ']'
	case '{':
		ch = '}'
	case '<':
		ch = '>'
	}

	index := strings.Index(s.input[pos+3:], string(ch)+string(byteSingle))
	if index == -1 {
		s.current.assign(sqliTokenTypeString, pos+3, s.length-pos-3, s.input[pos+3:])
		s.current.strOpen = 'q'
		s.current.strClose = byteNull
		return s.length
	}
	s.current.assign(sqliTokenTypeString, pos+3, index, s.input[pos+3:])
	s.current.strOpen = 'q'
	s.current.strClose = 'q'
	return pos + 3 + index + 2
}

type byteParser func(state *sqliState) int

var byteParsers = buildByteParsers()

func parseByteFunctions(s *sqliState, parse byte) int {
	return byteParsers[parse](s)
}

//nolint:gocyclo // complexity 65, reduction tracked in #128
func buildByteParsers() []byteParser {
	parsers := make([]byteParser, 256)
	for i := 0; i < 256; i++ {
		switch i {
		case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32:
			parsers[i] = parseWhite
		case 33:
			parsers[i] = parseOperator2
		case 34:
			parsers[i] = parseString
		case 35:
			parsers[i] = parseHash
		case 36:
			parsers[i] = parseMoney
		case 37:
			parsers[i] = parseOperator1
		case 38:
			parsers[i] = parseOperator2
		case 39:
			parsers[i] = parseString
		case 40, 41:
			parsers[i] = parseByte
		case 42:
			parsers[i] = parseOperator2
		case 43:
			parsers[i] = parseOperator1
		case 44:
			parsers[i] = parseByte
		case 45:
			parsers[i] = parseDash
		case 46:
			parsers[i] = parseNumber
		case 47:
			parsers[i] = parseSlash
		case 48, 49, 50, 51, 52, 53, 54, 55, 56, 57:
			parsers[i] = parseNumber
		case 58:
			parsers[i] = parseOperator2
		case 59:
			parsers[i] = parseByte
		case 60, 61, 62:
			parsers[i] = parseOperator2
		case 63:
			parsers[i] = parseOther
		case 64:
			parsers[i] = parseVar
		case 65:
			parsers[i] = parseWord
		case 66:
			parsers[i] = parseBString
		case 67, 68:
			parsers[i] = parseWord
		case 69:
			parsers[i] = parseEString
		case 70, 71, 72, 73, 74, 75, 76, 77:
			parsers[i] = parseWord
		case 78:
			parsers[i] = parseNqString
		case 79, 80:
			parsers[i] = parseWord
		case 81:
			parsers[i] = parseQString
		case 82:
			parsers[i] = parseWord
		case 83:
			parsers[i] = parseWord
		case 84:
			parsers[i] = parseWord
		case 85:
			parsers[i] = parseUString
		case 86, 87:
			parsers[i] = parseWord
		case 88:
			parsers[i] = parseXString
		case 89, 90:
			parsers[i] = parseWord
		case 91:
			parsers[i] = parseBWord
		case 92:
			parsers[i] = parseBackSlash
		case 93:
			parsers[i] = parseOther
		case 94:
			parsers[i] = parseOperator1
		case 95:
			parsers[i] = parseWord
		case 96:
			parsers[i] = parseTick
		case 97:
			parsers[i] = parseWord
		case 98:
			parsers[i] = parseBString
		case 99, 100:
			parsers[i] = parseWord
		case 101:
			parsers[i] = parseEString
		case 102, 103, 104, 105, 106, 107, 108, 109:
			parsers[i] = parseWord
		case 110:
			parsers[i] = parseNqString
		case 111, 112:
			parsers[i] = parseWord
		case 113:
			parsers[i] = parseQString
		case 114, 115, 116:
			parsers[i] = parseWord
		case 117:
			parsers[i] = parseUString
		case 118, 119:
			parsers[i] = parseWord
		case 120:
			parsers[i] = parseXString
		case 121, 122:
			parsers[i] = parseWord
		case 123:
			parsers[i] = parseByte
		case 124:
			parsers[i] = parseOperator2
		case 125:
			parsers[i] = parseByte
		case 126:
			parsers[i] = parseOperator1
		case 127:
			parsers[i] = parseWhite
		case 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159:
			parsers[i] = parseWord
		case 160:
			parsers[i] = parseWhite
		case 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192,
			193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224,
			225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255:
			parsers[i] = parseWord
		}
	}
	return parsers
}
