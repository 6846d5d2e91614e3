// A Remix build narrowed to one resource route. Remix matches every request against all routes of
// its build (flattening, scoring and ranking them each time), which is most of what a small
// resource route costs; a hot one (the webhook) gets its own handler over this small table and
// stays an ordinary Remix route: same module, same request conversion, same action call.
import type { ServerBuild } from "@remix-run/node";

/** `build` with only `routeId` and the routes above it (a route is matched under its parents). */
export function buildWithRoute(build: ServerBuild, routeId: string): ServerBuild {
  const routes: ServerBuild["routes"] = {};
  for (let id: string | undefined = routeId; id !== undefined; id = routes[id]!.parentId) {
    const route = build.routes[id];
    if (!route) throw new Error(`the Remix build has no route "${id}"`);
    routes[id] = route;
  }
  return { ...build, routes };
}
