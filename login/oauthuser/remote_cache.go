package oauthuser

import (
	"context"
	"sync"
	"time"
)

// cachedStore keeps the last token read or written per key in memory, so
// a call with a fresh token does not read the keyring. A token within a
// minute of its expiry is read from the store again: the Manager's
// refresh, under its lock, then sees what another process left there.
type cachedStore struct {
	TokenStore
	mu sync.Mutex
	m  map[Key]Token
}

func (c *cachedStore) Get(ctx context.Context, k Key) (Token, error) {
	c.mu.Lock()
	t, ok := c.m[k]
	c.mu.Unlock()
	if ok && t.AccessToken != "" && time.Now().Add(DefaultLeeway).Before(t.Expiry) {
		return t, nil
	}
	t, err := c.TokenStore.Get(ctx, k)
	if err == nil {
		c.remember(k, t)
	}
	return t, err
}

func (c *cachedStore) Put(ctx context.Context, k Key, t Token) error {
	if err := c.TokenStore.Put(ctx, k, t); err != nil {
		c.forget(k)
		return err
	}
	c.remember(k, t)
	return nil
}

// Forget drops k's copy: the next Get reads the store.
func (c *cachedStore) Forget(k Key) { c.forget(k) }

func (c *cachedStore) Delete(ctx context.Context, k Key) error {
	c.forget(k)
	return c.TokenStore.Delete(ctx, k)
}

func (c *cachedStore) remember(k Key, t Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[Key]Token{}
	}
	c.m[k] = t
}

func (c *cachedStore) forget(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}
