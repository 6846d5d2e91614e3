// The per-request Content-Security-Policy nonce (made in server/web.ts) for Remix's inline scripts.
import { createContext, useContext } from "react";

export const NonceContext = createContext<string | undefined>(undefined);

export function useNonce(): string | undefined {
  return useContext(NonceContext);
}
