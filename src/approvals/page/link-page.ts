/**
 * Pages behind a signed link (`/a/:token`): the confirmation page a GET shows (it decides
 * nothing: link unfurlers and mail scanners open links), the result of the POST that decides,
 * and the refusal pages. Everything interpolated is escaped.
 */
import type { ApprovalRequest } from '../types.js';
import { BASE_CSS, escapeHtml } from './html.js';

function layout(nonce: string, title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Portcullis</title>
<style nonce="${nonce}">${BASE_CSS}
.actions { display: flex; gap: 8px; align-items: flex-end; flex-wrap: wrap; margin-top: 12px; }
textarea { width: 100%; min-height: 60px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 8px 0; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-word; }
</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function summary(request: ApprovalRequest): string {
  const s = request.subject;
  const reasons = s.reasons.length ? `<ul>${s.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>` : '<p class="muted">No reason given.</p>';
  const rows: Array<[string, string | undefined]> = [
    ['Agent', s.agent],
    ['Tool', s.tool],
    ['Kind', s.kind === 'pin' ? 'tool definition changed (pin)' : 'tool call'],
    ['Session', s.session],
    ['Rule', s.rule],
    ['Request', request.id],
    ['Expires', new Date(request.expiresAt).toISOString()],
  ];
  const dl = rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('');
  const taint = s.taint === undefined ? '' : `<h2>Taint</h2><pre>${escapeHtml(JSON.stringify(s.taint, null, 2) ?? '')}</pre>`;
  return `<div class="card"><dl>${dl}</dl><h2>Reasons</h2>${reasons}${taint}<h2>Arguments</h2><pre>${escapeHtml(JSON.stringify(s.args, null, 2) ?? '{}')}</pre></div>`;
}

/** GET: shows the request and a form; only submitting the form decides. */
export function confirmPage(nonce: string, request: ApprovalRequest, decision: 'approve' | 'deny'): string {
  const approve = decision === 'approve';
  const field = approve
    ? '<label for="note">Note (optional)</label><textarea id="note" name="note" maxlength="2000"></textarea>'
    : '<label for="reason">Reason, shown to the agent (optional)</label><textarea id="reason" name="reason" maxlength="2000"></textarea>';
  const form = `<form method="post" class="card">${field}<div class="actions"><button type="submit" class="${approve ? 'approve' : 'deny'}">${approve ? 'Approve this call once' : 'Deny this call'}</button></div>
<p class="muted">Opening this link did not decide anything. The link works once and expires with the request.</p></form>`;
  return layout(nonce, approve ? 'Approve this call?' : 'Deny this call?', summary(request) + form);
}

/** POST: what the link decided. */
export function decidedPage(nonce: string, request: ApprovalRequest): string {
  const approved = request.status === 'approved';
  const text = approved
    ? 'Approved once. The call runs when the agent retries it (or at once, if it is still waiting).'
    : 'Denied. The agent is told not to retry this call.';
  return layout(nonce, approved ? 'Approved' : 'Denied', `<div class="card"><p>${escapeHtml(text)}</p><p class="muted">Request ${escapeHtml(request.id)} · ${escapeHtml(request.subject.agent)} → ${escapeHtml(request.subject.tool)}</p></div>`);
}

/** A link that cannot decide: invalid, expired, used, or its request already decided. */
export function refusedPage(nonce: string, title: string, message: string): string {
  return layout(nonce, title, `<div class="card"><p>${escapeHtml(message)}</p><p class="muted">Nothing was decided. Use the approvals page or the CLI if the request is still open.</p></div>`);
}
