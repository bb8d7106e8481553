/**
 * Coalesces bursts of writes to a stream: the first write of a turn of the event loop goes out
 * at once (no added latency), later ones in the same turn are held and leave together when the
 * turn is over. Under load a pipe then carries several JSON-RPC lines per system call, and per
 * wake-up of the process reading it, instead of one.
 */
import type { Writable } from 'node:stream';

/** Streams written to in this turn: `true` once later writes are being held. */
const turn = new Map<Writable, boolean>();

/** Call before each write to `stream`. */
export function batchWrites(stream: Writable | undefined): void {
  if (!stream || stream.destroyed) return;
  const holding = turn.get(stream);
  if (holding === undefined) {
    turn.set(stream, false);
    setImmediate(() => {
      if (turn.get(stream)) stream.uncork();
      turn.delete(stream);
    });
  } else if (!holding) {
    stream.cork();
    turn.set(stream, true);
  }
}
