package objstore

// EncodeRows and DecodeRows let tests forge objects.
var (
	EncodeRows = encodeRows
	DecodeRows = decodeRows
)
