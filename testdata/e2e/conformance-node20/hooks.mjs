// Serve an fs wrapper with globSync to imports made by the conformance package only.
export async function resolve(spec, ctx, next) {
  if ((spec === 'fs' || spec === 'node:fs') && ctx.parentURL?.includes('/@modelcontextprotocol/conformance/')) {
    return { url: new URL('./fs-globsync.mjs', import.meta.url).href, shortCircuit: true };
  }
  return next(spec, ctx);
}
