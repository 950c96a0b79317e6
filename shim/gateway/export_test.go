package gateway

// Internals the external tests check directly.
var (
	ProgressToken = progressToken
	MediaType     = mediaType
)
