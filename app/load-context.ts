// What server/web.ts hands every loader and action besides the request.
export interface WebLoadContext {
  /** The nonce in this response's Content-Security-Policy (`script-src 'nonce-…'`). */
  cspNonce?: string;
  /** The client's address as Express sees it (behind the configured trusted proxies). */
  clientIp?: string;
}

declare module "@remix-run/server-runtime" {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AppLoadContext extends WebLoadContext {}
}

/** The client's address from the load context, if the server supplied one. */
export function clientIp(context: unknown): string | null {
  const ip = (context as WebLoadContext | undefined)?.clientIp;
  return typeof ip === "string" && ip.length > 0 ? ip : null;
}
