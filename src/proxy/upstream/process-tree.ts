/**
 * Reaping child processes as a tree: an upstream started through a wrapper (npx, sh -c, uv)
 * leaves grandchildren that a plain kill of the child would orphan.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Every descendant pid of `root` (Linux /proc; elsewhere only what can be seen: none). */
export function descendantsOf(root: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name is in parentheses and may contain spaces: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const pid = Number(entry);
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** Whether a process with this pid exists (and may be signalled). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * Sends SIGTERM to `root` and all its descendants, then SIGKILL to whatever is still alive
 * after `graceMs`. Resolves when every process of the tree is gone (or the kill was sent).
 */
export async function killTree(root: number, graceMs = 2_000): Promise<void> {
  const pids = [root, ...descendantsOf(root)];
  signal(pids, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pids.some(isAlive)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  signal(pids.filter(isAlive), 'SIGKILL');
}
