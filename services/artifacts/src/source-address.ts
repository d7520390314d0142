import { createContextKey } from "@connectrpc/connect";

/**
 * The remote address of the connection a Connect call arrived on. The guest listener sets it for
 * every call; a call without one (any other listener) is treated as coming from nowhere allowed.
 */
export const sourceAddressKey = createContextKey<string | undefined>(undefined, {
  description: "remote address of the calling connection",
});
