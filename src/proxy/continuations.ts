/**
 * Parked upstream calls. A 2025-era upstream asks its client things (sampling, elicitation,
 * roots) in the middle of a call; a 2026-07-28 client can only be asked by ending the request
 * with an `input_required` result and being retried. So the upstream call is parked here, the
 * question goes out as input_required with an unguessable requestState naming the parked call,
 * and the client's retry resumes it with the answers.
 */
import { randomBytes } from 'node:crypto';
import { inputRequired, type InputRequiredResult } from '@modelcontextprotocol/server';
import type { ClientRequestMethod } from './upstream/connection.js';

const TOKEN_PREFIX = 'pcx1.';

interface Question {
  key: string;
  method: ClientRequestMethod;
  params: Record<string, unknown>;
  resolve: (answer: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

/** One call in progress whose upstream may ask questions; see {@link Continuations}. */
export class ParkedCall<T> {
  private readonly pending = new Map<string, Question>();
  private waiter: (() => void) | undefined;
  private counter = 0;
  /** Aborts the upstream call (client cancelled, or never came back). */
  readonly controller = new AbortController();
  private result: Promise<T> | undefined;

  /**
   * Starts the work with the signal that cancels it. Separate from construction so whoever
   * answers its questions can be registered first.
   */
  start(work: (signal: AbortSignal) => Promise<T>): this {
    this.result = work(this.controller.signal);
    // A parked call nobody awaits any more must not become an unhandled rejection.
    this.result.catch(() => undefined);
    return this;
  }

  /** Called when the upstream asks: resolves once the client's retry carries the answer. */
  ask(method: ClientRequestMethod, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const key = `q${++this.counter}`;
      this.pending.set(key, { key, method, params, resolve, reject });
      this.waiter?.();
    });
  }

  /** Resolves with the result, or with the questions the client must answer first. */
  async next(): Promise<{ done: true; value: T } | { done: false; questions: Question[] }> {
    const questionsRaised = new Promise<'questions'>((resolve) => {
      if (this.pending.size > 0) resolve('questions');
      else this.waiter = () => resolve('questions');
    });
    if (!this.result) throw new Error('the call was never started');
    const outcome = await Promise.race([this.result.then((value) => ({ value })), questionsRaised]);
    this.waiter = undefined;
    if (outcome !== 'questions') return { done: true, value: outcome.value };
    // Questions raised together go out in one round.
    await new Promise((resolve) => setImmediate(resolve));
    return { done: false, questions: [...this.pending.values()] };
  }

  /** Delivers the client's answers; a missing or malformed answer fails that question. */
  answer(responses: Record<string, unknown> | undefined): void {
    for (const [key, question] of this.pending) {
      const answer = responses?.[key];
      this.pending.delete(key);
      if (typeof answer === 'object' && answer !== null) question.resolve(answer as Record<string, unknown>);
      else question.reject(new Error(`the client did not answer ${question.method}`));
    }
  }

  abort(reason: string): void {
    for (const question of this.pending.values()) question.reject(new Error(reason));
    this.pending.clear();
    this.controller.abort(new Error(reason));
  }
}

interface Entry {
  call: ParkedCall<unknown>;
  /** What the retry must match: same session, same tool, same arguments. */
  binding: string;
  timer: NodeJS.Timeout;
}

export class Continuations {
  private readonly parked = new Map<string, Entry>();

  constructor(private readonly ttlMs: number) {}

  static isToken(requestState: string | undefined): requestState is string {
    return typeof requestState === 'string' && requestState.startsWith(TOKEN_PREFIX);
  }

  /** Parks a call and returns the input_required result that asks the client the questions. */
  park(call: ParkedCall<unknown>, binding: string, questions: ReadonlyArray<{ key: string; method: ClientRequestMethod; params: Record<string, unknown> }>): InputRequiredResult {
    const token = `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
    const timer = setTimeout(() => {
      this.parked.delete(token);
      call.abort('the client did not answer in time');
    }, this.ttlMs);
    timer.unref();
    this.parked.set(token, { call, binding, timer });
    const inputRequests: Record<string, unknown> = {};
    for (const q of questions) inputRequests[q.key] = toInputRequest(q.method, q.params);
    return inputRequired({ inputRequests: inputRequests as never, requestState: token });
  }

  /** Takes a parked call back for the retry that names it; undefined if unknown, expired or not bound to this retry. */
  resume(token: string, binding: string): ParkedCall<unknown> | undefined {
    const entry = this.parked.get(token);
    if (!entry || entry.binding !== binding) return undefined;
    this.parked.delete(token);
    clearTimeout(entry.timer);
    return entry.call;
  }

  close(): void {
    for (const entry of this.parked.values()) {
      clearTimeout(entry.timer);
      entry.call.abort('gateway shutting down');
    }
    this.parked.clear();
  }
}

/** The upstream's request, embedded unchanged (its schema already is in wire form). */
function toInputRequest(method: ClientRequestMethod, params: Record<string, unknown>): unknown {
  return method === 'roots/list' ? { method } : { method, params };
}
