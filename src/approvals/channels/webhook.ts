/**
 * Webhook channel: on every new request, POST a summary with signed approve/deny links, as JSON
 * or as a Slack message. Signed with HMAC-SHA256 over `timestamp + "." + body`; retried with
 * exponential backoff; never awaited by the held call. Only the target's host is ever logged
 * (the URL itself may be a secret, as Slack's are).
 */
import { createHmac } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { ApprovalRequest } from '../types.js';
import { approvalView } from '../view.js';

export interface WebhookTarget {
  url: string;
  secret: string;
  format: 'json' | 'slack';
}

export interface WebhookRetry {
  /** Attempts in all, including the first. */
  attempts: number;
  /** Delay before the second attempt; doubled for each further one. */
  baseDelayMs: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_RETRY: WebhookRetry = { attempts: 4, baseDelayMs: 1_000, timeoutMs: 10_000 };

export interface WebhookLinks {
  approve?: string;
  deny?: string;
  page?: string;
}

export const SIGNATURE_HEADER = 'X-Portcullis-Signature';
export const TIMESTAMP_HEADER = 'X-Portcullis-Timestamp';

/** `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookBody(format: 'json' | 'slack', request: ApprovalRequest, links: WebhookLinks): string {
  if (format === 'json') return JSON.stringify({ type: 'approval.requested', request: approvalView(request), links });
  return JSON.stringify(slackMessage(request, links));
}

function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function slackMessage(request: ApprovalRequest, links: WebhookLinks): Record<string, unknown> {
  const s = request.subject;
  const what = s.kind === 'pin' ? `changed its definition of \`${s.tool}\`` : `wants to call \`${s.tool}\``;
  const headline = `Portcullis: *${slackEscape(s.agent)}* ${slackEscape(what)}`;
  const reasons = s.reasons.length ? s.reasons.map((r) => `• ${slackEscape(r)}`).join('\n') : '• (no reason given)';
  const args = truncate(JSON.stringify(s.args, null, 2), 2_500).replace(/```/g, '`\u200b``');
  const blocks: Record<string, unknown>[] = [
    { type: 'section', text: { type: 'mrkdwn', text: headline } },
    { type: 'section', text: { type: 'mrkdwn', text: `*Arguments*\n\`\`\`${slackEscape(args)}\`\`\`` } },
    { type: 'section', text: { type: 'mrkdwn', text: `*Reasons*\n${reasons}` } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `Request \`${request.id}\` · expires <!date^${Math.floor(request.expiresAt / 1000)}^{date_short_pretty} {time}|${new Date(request.expiresAt).toISOString()}>` }] },
  ];
  const buttons: Record<string, unknown>[] = [];
  if (links.approve) buttons.push({ type: 'button', action_id: 'approve', style: 'primary', text: { type: 'plain_text', text: 'Approve…' }, url: links.approve });
  if (links.deny) buttons.push({ type: 'button', action_id: 'deny', style: 'danger', text: { type: 'plain_text', text: 'Deny…' }, url: links.deny });
  if (links.page) buttons.push({ type: 'button', action_id: 'open', text: { type: 'plain_text', text: 'Open queue' }, url: links.page });
  if (buttons.length) blocks.push({ type: 'actions', elements: buttons });
  return { text: `Portcullis: ${s.agent} ${what} (approval ${request.id})`, blocks };
}

export interface WebhookSender {
  /** Starts delivery to every target; returns at once. */
  send(request: ApprovalRequest, links: WebhookLinks): void;
  /** Stops retrying and waits for attempts in flight. */
  close(): Promise<void>;
}

export function createWebhookSender(opts: { targets: WebhookTarget[]; log: Logger; fetch: typeof fetch; now: () => number; retry?: Partial<WebhookRetry> }): WebhookSender {
  const retry = { ...DEFAULT_WEBHOOK_RETRY, ...opts.retry };
  const stop = new AbortController();
  const inFlight = new Set<Promise<void>>();

  async function deliver(target: WebhookTarget, request: ApprovalRequest, body: string): Promise<void> {
    const host = safeHost(target.url);
    for (let attempt = 1; attempt <= retry.attempts; attempt++) {
      if (stop.signal.aborted) return;
      const timestamp = Math.floor(opts.now() / 1000);
      let problem: string;
      try {
        const response = await opts.fetch(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'portcullis-webhook', [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signWebhook(target.secret, timestamp, body) },
          body,
          redirect: 'error',
          signal: AbortSignal.any([stop.signal, AbortSignal.timeout(retry.timeoutMs)]),
        });
        await response.body?.cancel().catch(() => undefined);
        if (response.ok) {
          opts.log.debug({ webhook: host, approval: request.id, attempt }, 'webhook delivered');
          return;
        }
        problem = `HTTP ${response.status}`;
        // A 4xx other than 408/429 will not get better by retrying.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) {
          opts.log.warn({ webhook: host, approval: request.id, status: response.status }, 'webhook refused; not retrying');
          return;
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        problem = error instanceof Error ? error.name : 'error';
      }
      if (attempt === retry.attempts) {
        opts.log.warn({ webhook: host, approval: request.id, attempts: attempt, problem }, 'webhook delivery failed; giving up');
        return;
      }
      opts.log.info({ webhook: host, approval: request.id, attempt, problem }, 'webhook delivery failed; retrying');
      await sleep(retry.baseDelayMs * 2 ** (attempt - 1), stop.signal);
    }
  }

  return {
    send(request, links) {
      for (const target of opts.targets) {
        const body = webhookBody(target.format, request, links);
        const p = deliver(target, request, body).catch((error: unknown) => opts.log.error({ webhook: safeHost(target.url), err: error instanceof Error ? error.message : String(error) }, 'webhook delivery crashed'));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
    },
    async close() {
      stop.abort();
      await Promise.allSettled([...inFlight]);
    },
  };
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
