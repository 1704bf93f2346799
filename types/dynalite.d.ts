/** dynalite 4 ships no types: the part the local stack uses (README of github.com/architect/dynalite). */
declare module "dynalite" {
  import type { Server } from "node:http";

  interface DynaliteOptions {
    /** Where to keep the data; omitted: in memory. */
    readonly path?: string;
    /** Milliseconds a table takes to become ACTIVE, and to be deleted or updated (default 500). */
    readonly createTableMs?: number;
    readonly deleteTableMs?: number;
    readonly updateTableMs?: number;
  }

  export default function dynalite(options?: DynaliteOptions): Server;
}
