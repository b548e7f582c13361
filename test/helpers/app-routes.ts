/** The routes an express app answers, read from its own router, so a test checks routes added later too. */
export interface Route {
  method: string;
  path: string;
}

/** Every route of `router` (an app's `router`, or a Router), nested routers included. */
export function routesOf(router: unknown, prefix = ''): Route[] {
  const out: Route[] = [];
  const stack = (router as { stack?: unknown[] }).stack ?? [];
  for (const layer of stack as { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) {
    if (layer.route) {
      for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push({ method: method.toUpperCase(), path: prefix + layer.route.path });
    } else if (layer.handle?.stack) {
      out.push(...routesOf(layer.handle, prefix));
    }
  }
  return out;
}
