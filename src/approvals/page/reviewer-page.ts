/**
 * The reviewer web page (`GET /approvals`): one self-contained HTML document, inline style and
 * script (allowed by nonce), no external assets and no build step. It lists pending requests
 * live from `/api/approvals/stream`, decides through the REST API with `fetch`, and shows the
 * history. Every value from the server is inserted with `textContent`, never as HTML.
 */
import { BASE_CSS } from './html.js';

const STYLE = `${BASE_CSS}
header { display: flex; align-items: center; gap: 12px; padding: 12px 16px; border-bottom: 1px solid var(--line); background: var(--card); }
header .conn { margin-left: auto; font-size: 13px; }
.conn.live { color: var(--ok); } .conn.down { color: var(--bad); }
nav { display: flex; gap: 8px; max-width: 960px; margin: 12px auto 0; padding: 0 16px; }
nav button[aria-selected="true"] { border-color: var(--accent); color: var(--accent); }
#error { max-width: 960px; margin: 12px auto 0; padding: 8px 16px; border: 1px solid var(--bad); color: var(--bad); border-radius: 6px; }
.head { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.head .tool { font-weight: 600; font-size: 17px; }
.head .left { margin-left: auto; font-variant-numeric: tabular-nums; }
.left.soon { color: var(--bad); }
.meta { font-size: 13px; margin: 4px 0 8px; }
h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 10px 0 4px; }
ul.reasons { margin: 0; padding-left: 20px; }
.decide { display: grid; grid-template-columns: 1fr auto auto; gap: 8px; margin-top: 12px; }
.decide.deny-row { grid-template-columns: 1fr auto; }
.decide input { min-width: 0; }
.empty { text-align: center; padding: 32px; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; font-size: 14px; }
td.status-approved, td.status-used { color: var(--ok); } td.status-denied, td.status-expired { color: var(--bad); }
ol#pending { list-style: none; padding: 0; margin: 0; }
`;

// Plain ES2017 in a raw string: no template literals inside, so nothing here is interpolated.
const SCRIPT = String.raw`
(function () {
  'use strict';
  var pending = new Map();
  var skew = 0;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, opts, children) {
    var node = document.createElement(tag);
    opts = opts || {};
    if (opts.cls) node.className = opts.cls;
    if (opts.text !== undefined) node.textContent = String(opts.text);
    if (opts.attrs) Object.keys(opts.attrs).forEach(function (k) { node.setAttribute(k, opts.attrs[k]); });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function pretty(value) { try { return JSON.stringify(value, null, 2); } catch (e) { return String(value); } }
  function serverNow() { return Date.now() + skew; }
  function syncClock(iso) { var t = Date.parse(iso); if (!isNaN(t)) skew = t - Date.now(); }
  function left(ms) {
    if (ms <= 0) return 'expiring…';
    var s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s = s % 60;
    return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + s + 's left';
  }
  function showError(message) {
    var box = $('error');
    box.textContent = message;
    box.hidden = !message;
  }

  function post(id, action, body) {
    return fetch('/api/approvals/' + encodeURIComponent(id) + '/' + action, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-portcullis-csrf': '1', 'x-portcullis-via': 'page' },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error(data && data.error ? data.error.message : 'HTTP ' + res.status);
        return data.approval;
      });
    });
  }

  function card(a) {
    var timeLeft = el('span', { cls: 'left', attrs: { 'data-expires': a.expiresAt } });
    var head = el('div', { cls: 'head' }, [
      el('span', { cls: 'tool', text: a.tool }),
      el('span', { cls: 'muted', text: 'requested by ' + a.agent }),
      a.kind === 'pin' ? el('span', { cls: 'badge', text: 'tool definition changed' }) : null,
      timeLeft
    ]);
    var metaBits = ['session ' + a.session];
    if (a.owner) metaBits.push('owner ' + a.owner);
    if (a.rule) metaBits.push('rule ' + a.rule);
    metaBits.push('policy ' + a.policyVersion);
    metaBits.push('request ' + a.id);
    var meta = el('div', { cls: 'meta muted', text: metaBits.join(' · ') });
    var reasons = el('ul', { cls: 'reasons' }, (a.reasons && a.reasons.length ? a.reasons : ['(no reason given)']).map(function (r) { return el('li', { text: r }); }));
    var parts = [head, meta, el('h3', { text: 'Reasons' }), reasons];
    if (a.taint !== undefined) parts.push(el('h3', { text: 'Taint sources' }), el('pre', { cls: 'taint', text: pretty(a.taint) }));
    if (a.provenance !== undefined) parts.push(el('h3', { text: 'Provenance' }), el('pre', { cls: 'provenance', text: pretty(a.provenance) }));
    parts.push(el('h3', { text: 'Arguments' }), el('pre', { cls: 'args', text: pretty(a.args) }));

    var note = el('input', { attrs: { type: 'text', placeholder: 'Note (optional)', 'aria-label': 'Note', maxlength: '2000' } });
    var once = el('button', { cls: 'approve', text: 'Approve once', attrs: { type: 'button' } });
    var session = el('button', { text: 'Approve for session', attrs: { type: 'button', title: 'Also allow later calls of this tool in this session' } });
    var reason = el('input', { attrs: { type: 'text', placeholder: 'Reason, shown to the agent (optional)', 'aria-label': 'Reason', maxlength: '2000' } });
    var deny = el('button', { cls: 'deny', text: 'Deny', attrs: { type: 'button' } });
    var buttons = [once, session, deny];
    if (a.kind === 'pin') session.hidden = true;
    function act(action, body) {
      buttons.forEach(function (b) { b.disabled = true; });
      showError('');
      post(a.id, action, body).then(function (updated) { settled(updated || { id: a.id }); }, function (err) {
        buttons.forEach(function (b) { b.disabled = false; });
        showError('Could not ' + action + ' ' + a.tool + ': ' + err.message);
      });
    }
    once.addEventListener('click', function () { act('approve', { scope: 'once', note: note.value }); });
    session.addEventListener('click', function () { act('approve', { scope: 'session', note: note.value }); });
    deny.addEventListener('click', function () { act('deny', { reason: reason.value }); });
    parts.push(el('div', { cls: 'decide' }, [note, once, session]), el('div', { cls: 'decide deny-row' }, [reason, deny]));
    var li = el('li', { cls: 'card request', attrs: { 'data-id': a.id, 'data-tool': a.tool } }, parts);
    return li;
  }

  function render() {
    var list = $('pending');
    var ids = Array.from(pending.keys());
    Array.from(list.children).forEach(function (li) { if (!pending.has(li.getAttribute('data-id'))) li.remove(); });
    ids.forEach(function (id) {
      if (!list.querySelector('[data-id="' + CSS.escape(id) + '"]')) list.appendChild(card(pending.get(id)));
    });
    $('count').textContent = String(pending.size);
    $('empty').hidden = pending.size > 0;
    tick();
  }
  function tick() {
    Array.prototype.forEach.call(document.querySelectorAll('.left[data-expires]'), function (span) {
      var ms = Date.parse(span.getAttribute('data-expires')) - serverNow();
      span.textContent = left(ms);
      span.classList.toggle('soon', ms < 60000);
    });
  }
  function settled(a) {
    pending.delete(a.id);
    render();
    if (!$('history-view').hidden) loadHistory();
  }

  function loadHistory() {
    fetch('/api/approvals?limit=200', { credentials: 'same-origin' }).then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(function (data) {
      var body = $('history');
      body.textContent = '';
      data.approvals.filter(function (a) { return a.status !== 'pending'; }).forEach(function (a) {
        var d = a.decision || {};
        var detail = [d.scope ? 'scope ' + d.scope : '', d.note ? 'note: ' + d.note : '', d.reason ? 'reason: ' + d.reason : ''].filter(Boolean).join(' · ');
        body.appendChild(el('tr', { attrs: { 'data-id': a.id } }, [
          el('td', { text: new Date(a.decidedAt || a.createdAt).toLocaleString() }),
          el('td', { cls: 'status-' + a.status, text: a.status }),
          el('td', { text: a.agent }),
          el('td', { text: a.tool }),
          el('td', { text: d.by ? d.by + ' via ' + d.via : '' }),
          el('td', { text: detail })
        ]));
      });
      $('history-empty').hidden = body.children.length > 0;
    }).catch(function (err) { showError('Could not load the history: ' + err.message); });
    loadUndoable();
  }

  // Calls whose rule declared an undo: the owner or an admin may reverse each once.
  function loadUndoable() {
    fetch('/api/undo', { credentials: 'same-origin' }).then(function (res) {
      if (res.status === 404) return { calls: [] };
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(function (data) {
      var body = $('undoable');
      body.textContent = '';
      data.calls.forEach(function (call) {
        var action = call.done
          ? el('td', { text: 'undone by ' + call.done.by })
          : el('td', {}, [el('button', { cls: 'deny', text: 'Undo', attrs: { type: 'button', 'data-undo': call.callId } })]);
        body.appendChild(el('tr', { attrs: { 'data-call': call.callId } }, [
          el('td', { text: new Date(call.createdAt).toLocaleString() }),
          el('td', { text: call.agent }),
          el('td', { text: call.tool }),
          el('td', { text: call.undoTool }),
          action
        ]));
      });
      $('undoable-empty').hidden = body.children.length > 0;
    }).catch(function (err) { showError('Could not load undoable calls: ' + err.message); });
  }
  document.addEventListener('click', function (e) {
    var id = e.target && e.target.getAttribute && e.target.getAttribute('data-undo');
    if (!id) return;
    e.target.disabled = true;
    fetch('/api/calls/' + encodeURIComponent(id) + '/undo', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-portcullis-csrf': '1' }, body: '{}' })
      .then(function (res) { return res.json().then(function (body) { if (!res.ok) throw new Error((body.error && body.error.message) || ('HTTP ' + res.status)); }); })
      .then(loadUndoable)
      .catch(function (err) { e.target.disabled = false; showError('Undo failed: ' + err.message); });
  });

  function select(tab) {
    var history = tab === 'history';
    $('pending-view').hidden = history;
    $('history-view').hidden = !history;
    $('tab-pending').setAttribute('aria-selected', String(!history));
    $('tab-history').setAttribute('aria-selected', String(history));
    if (history) loadHistory();
  }
  $('tab-pending').addEventListener('click', function () { select('pending'); });
  $('tab-history').addEventListener('click', function () { select('history'); });

  function connect() {
    var conn = $('conn');
    var source = new EventSource('/api/approvals/stream');
    source.addEventListener('open', function () { conn.textContent = 'live'; conn.className = 'conn live'; });
    source.addEventListener('error', function () {
      conn.textContent = source.readyState === EventSource.CLOSED ? 'disconnected (reload the page)' : 'reconnecting…';
      conn.className = 'conn down';
    });
    source.addEventListener('snapshot', function (e) {
      var data = JSON.parse(e.data);
      syncClock(data.now);
      pending.clear();
      data.approvals.forEach(function (a) { pending.set(a.id, a); });
      render();
    });
    source.addEventListener('requested', function (e) {
      var data = JSON.parse(e.data);
      syncClock(data.now);
      pending.set(data.approval.id, data.approval);
      render();
    });
    ['decided', 'expired', 'withdrawn'].forEach(function (type) {
      source.addEventListener(type, function (e) { settled(JSON.parse(e.data).approval); });
    });
  }

  setInterval(tick, 1000);
  connect();
})();
`;

const BODY = `<header><h1>Portcullis · approvals</h1><span id="conn" class="conn">connecting…</span></header>
<nav><button type="button" id="tab-pending" aria-selected="true">Pending (<span id="count">0</span>)</button><button type="button" id="tab-history" aria-selected="false">History</button></nav>
<div id="error" role="alert" hidden></div>
<main>
<section id="pending-view"><p id="empty" class="empty muted">No calls are waiting for approval.</p><ol id="pending"></ol></section>
<section id="history-view" hidden><table><thead><tr><th>When</th><th>Status</th><th>Agent</th><th>Tool</th><th>Decided by</th><th>Details</th></tr></thead><tbody id="history"></tbody></table><p id="history-empty" class="empty muted" hidden>No decided requests yet.</p>
<h2>Undoable calls</h2><table><thead><tr><th>When</th><th>Agent</th><th>Tool</th><th>Undo with</th><th></th></tr></thead><tbody id="undoable"></tbody></table><p id="undoable-empty" class="empty muted" hidden>No calls with an undo yet.</p></section>
</main>`;

export function reviewerPage(nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Approvals · Portcullis</title>
<style nonce="${nonce}">${STYLE}</style></head>
<body>${BODY}
<script nonce="${nonce}">${SCRIPT}</script>
</body></html>`;
}
