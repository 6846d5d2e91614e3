// A port picked by `freePort()` is free when picked, not when bound: another process on the
// machine may take it in between. Starting on it again with a fresh port is the only fix.
import { freePort } from "../../db/embedded";

const IN_USE = /EADDRINUSE|address already in use/i;

/** Runs `start` on a free loopback port, again on another one while the port was taken meanwhile. */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (attempt >= attempts || !IN_USE.test(String(err))) throw err;
    }
  }
}
