/**
 * Injection markers (SPEC §5.5): signs that tainted content talks to the assistant rather than
 * to the user. Markers raise a label to `suspicious` (high severity only) and appear in reasons;
 * they are never the only gate, because the session taint already escalates every sink.
 *
 * High severity is kept for phrases that ordinary pages, mails and tickets do not contain;
 * everything plausible in benign text is low. Checked on the AgentDojo development traces: no
 * marker fires on any tool output of the 372 benign runs, and a high one fires in 1,637 of the
 * 1,887 attack runs (the others never surface the injection). Every pattern is linear-time:
 * bounded or unambiguous quantifiers only.
 *
 * Tool-name matching is compiled once per `toolNames` array (cached by identity): pass the same
 * array for every call of a session or agent.
 */

import { trimUnbalanced } from './entities.js';

export type InjectionMarkerKind = 'instruction' | 'tool-mention' | 'exfil-link' | 'hidden-chars';

export interface InjectionMarker {
  kind: InjectionMarkerKind;
  /** A short, whitespace-collapsed piece of the text around the finding (attacker-controlled). */
  excerpt: string;
  severity: 'low' | 'high';
}

export interface MarkerOptions {
  /** Exposed tool names (`server__tool`); the part after the last `__` is looked for too. */
  toolNames: readonly string[];
}

/** At most this many markers per scanned text. */
export const MAX_MARKERS = 16;
const EXCERPT_CONTEXT = 30;
const MAX_EXCERPT = 160;

type Pattern = readonly [RegExp, 'low' | 'high'];

const W = String.raw`[\s,:]{1,4}`;
const AI = String.raw`(?:AI(?:\s(?:assistant|agent|model|system))?|LLM|large language model|language model|chatbot|GPT[-\s]?\d\w*|ChatGPT|Copilot|Claude|Gemini|Llama)`;

const INSTRUCTION_PATTERNS: readonly Pattern[] = [
  // "ignore (all) previous instructions" and friends
  [new RegExp(String.raw`\b(?:ignore|disregard|forget|override|bypass)\s{1,4}(?:(?:all|any|the|your|my|of|these|those)\s{1,4}){0,3}(?:previous|prior|above|earlier|preceding|former|original|old|system|existing|initial)\s{1,4}(?:\w{0,3}nstructions?|directions|directives?|rules|prompts?|guidelines|guidance|commands|orders|context)\b`, 'i'), 'high'],
  [/\b(?:ignore|disregard|forget)\s{1,4}(?:all|any|every)\s{1,4}(?:of\s{1,4})?(?:the\s{1,4}|your\s{1,4})?(?:\w{1,20}\s{1,4})?(?:instructions|rules|guidelines)\b/i, 'high'],
  // pseudo-tags and chat-template tokens used to fake a system turn
  [/<[\s/]{0,4}(?:information|important|instructions?|system|system[_ -]?prompt|admin|sudo)\s{0,4}>/i, 'high'],
  [/<\|(?:im_start|im_end|system|endoftext|eot_id|start_header_id)\|>|\[\/?INST\]|<<\/?SYS>>|#{2,}\s{0,4}\(?\s{0,4}system[_ -]?(?:message|prompt)\b/i, 'high'],
  // addressing the model
  [new RegExp(String.raw`\bto you,?\s{1,4}(?:an?\s{1,4}|the\s{1,4})?${AI}\b`, 'i'), 'high'],
  [new RegExp(String.raw`\b(?:dear|attention|hey|hello|note to|message to|message for)(?:\s{1,4}the)?${W}(?:AI(?:\s(?:assistant|agent|model))?|assistant|LLM|language model|chatbot|GPT[-\s]?\d\w*|ChatGPT|Copilot)\b`, 'i'), 'high'],
  [/\bif\s{1,4}you\s{1,4}are\s{1,4}(?:an?\s{1,4})?(?:AI|LLM|large language model|language model|AI assistant|AI agent|chatbot|GPT)\b/i, 'high'],
  [/\b(?:do\s{1,4}not|don't|never)\s{1,4}(?:tell|inform|mention|reveal|alert|notify)\s{1,4}(?:(?:this|it|anything|them)\s{1,4}(?:to\s{1,4})?)?(?:the|your)\s{1,4}(?:user|human|operator)\b/i, 'high'],
  [/\b(?:reveal|print|output|repeat|leak|disclose|dump)\s{1,4}(?:me\s{1,4})?your\s{1,4}(?:(?:full|entire|complete|original|initial|hidden|secret)\s{1,4})?(?:system\s{1,4}prompt|system\s{1,4}message|instructions|initial\s{1,4}prompt|prompt)\b/i, 'high'],
  [/\bthe\s{1,4}task\s{1,4}(?:that\s{1,4})?I\s{1,4}(?:gave|have\s{1,4}given|assigned)\s{1,4}(?:to\s{1,4})?you\s{1,4}(?:in\s{1,4}the\s{1,4}beginning|at\s{1,4}the\s{1,4}start|originally)\b/i, 'high'],
  // plausible in benign text: low
  [/\bimportant\s{1,4}(?:message|instructions?|notice)\s{1,4}(?:from|for)\b/i, 'low'],
  [/\bIMPORTANT\s{0,4}!{2,}/, 'low'],
  [/\byou\s{1,4}(?:must|should)\s{1,4}now\b/i, 'low'],
  [/\byou\s{1,4}are\s{1,4}now\s{1,4}(?:a|an|in|the|my|DAN)\b/i, 'low'],
  [/\b(?:new|updated|revised|real|actual|additional)\s{1,4}instructions\s{0,4}:/i, 'low'],
  [/\bsystem\s{1,4}prompt\b/i, 'low'],
  [/\bas\s{1,4}an?\s{1,4}(?:AI|artificial intelligence|large language model|language model|LLM|AI assistant|AI model)\b/i, 'low'],
  [/\b(?:developer|god|jailbreak|DAN)\s{1,4}mode\b/i, 'low'],
  [/\bbefore\s{1,4}you\s{1,4}(?:can\s{1,4})?(?:solve|complete|do|finish|continue|proceed\s{1,4}with|answer|perform|respond\s{1,4}to)\s{1,4}(?:the|this|your|my)\s{1,4}(?:\w{1,20}\s{1,4})?(?:task|request|question)\b/i, 'low'],
  [/\b(?:call|use|invoke|run|execute)\s{1,4}the\s{1,4}(?:[\w-]{1,40}\s{1,4}){0,2}(?:tool|function)\b/i, 'low'],
  [/\b(?:send|forward|transfer|upload|post|email|exfiltrate|leak)\b[^.\n]{0,60}\b(?:passwords?|passcodes?|security\s{1,4}codes?|verification\s{1,4}codes?|2fa|otp|api[ _-]?keys?|access\s{1,4}tokens?|credentials?|private\s{1,4}keys?|ssh\s{1,4}keys?)\b/i, 'low'],
  [/\bdelete\s{1,4}(?:the|this|that)\s{1,4}(?:email|message|mail)s?\s{1,4}you\s{1,4}(?:have\s{1,4})?just\s{1,4}sent\b/i, 'low'],
];

const URL_PATTERN = /\b(?:https?|ftp):\/\/[^\s<>"'`)]{1,2048}/gi;
const MARKDOWN_IMAGE = /!\[[^\]\n]{0,200}\]\(\s{0,4}<?(https?:\/\/[^\s)>]{1,2048})/gi;
const PLACEHOLDER = /\{[^{}]{1,60}\}|\[[^[\]]{1,60}\]|%7B|\$\{|\$[A-Z_]{3,}/i;
const ENCODED_VALUE = /^[A-Za-z0-9+/=_%.-]{32,}$/;

function excerptAt(text: string, index: number, length: number): string {
  const from = Math.max(0, index - EXCERPT_CONTEXT);
  const to = Math.min(text.length, index + length + EXCERPT_CONTEXT);
  let piece = text.slice(from, to).replace(/\s+/g, ' ').trim();
  if (piece.length > MAX_EXCERPT) piece = `${piece.slice(0, MAX_EXCERPT - 1)}…`;
  return `${from > 0 ? '…' : ''}${piece}${to < text.length ? '…' : ''}`;
}

/** Names worth looking for: specific enough not to be an ordinary word. */
function isDistinctiveName(name: string): boolean {
  return name.length >= 4 && (/[_.-]/.test(name) || /[a-z][A-Z]/.test(name) || name.length >= 12);
}

const toolMatchers = new WeakMap<readonly string[], RegExp | null>();

function toolMatcher(toolNames: readonly string[]): RegExp | null {
  const cached = toolMatchers.get(toolNames);
  if (cached !== undefined) return cached;
  const names = new Set<string>();
  for (const name of toolNames) {
    if (isDistinctiveName(name)) names.add(name);
    const cut = name.lastIndexOf('__');
    if (cut > 0) {
      const original = name.slice(cut + 2);
      if (isDistinctiveName(original)) names.add(original);
    }
  }
  const sorted = [...names].sort((a, b) => b.length - a.length).map((n) => n.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'));
  const re = sorted.length === 0 ? null : new RegExp(`(?<![A-Za-z0-9_])(?:${sorted.join('|')})(?![A-Za-z0-9_])`, 'gi');
  toolMatchers.set(toolNames, re);
  return re;
}

function queryValues(url: string): string[] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  return query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    return eq < 0 ? pair : pair.slice(eq + 1);
  });
}

function carriesData(url: string): boolean {
  return queryValues(url).some((v) => ENCODED_VALUE.test(v) && new Set(v).size >= 8);
}

function hasPlaceholder(url: string, following: string): boolean {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  const rest = slash < 0 ? '' : url.slice(slash);
  return PLACEHOLDER.test(rest) || /^<[A-Za-z_ ]{1,40}>/.test(following);
}

/** Finds instructions addressed to the assistant, tool mentions and exfiltration-shaped links. */
export function findInjectionMarkers(text: string, options: MarkerOptions): InjectionMarker[] {
  const markers: InjectionMarker[] = [];
  const push = (marker: InjectionMarker): boolean => {
    markers.push(marker);
    return markers.length < MAX_MARKERS;
  };
  const spans: Array<[number, number]> = [];
  for (const [re, severity] of INSTRUCTION_PATTERNS) {
    const m = re.exec(text);
    if (!m) continue;
    const [from, to] = [m.index, m.index + m[0].length];
    // Two patterns matching the same phrase make one finding (the first, most specific).
    if (spans.some(([a, b]) => from < b && a < to)) continue;
    spans.push([from, to]);
    if (!push({ kind: 'instruction', excerpt: excerptAt(text, from, to - from), severity })) return markers;
  }

  const images = new Set<string>();
  if (text.includes('![')) {
    for (const m of text.matchAll(MARKDOWN_IMAGE)) {
      const url = m[1]!;
      images.add(url);
      if (carriesData(url) || hasPlaceholder(url, text.slice(m.index + m[0].length, m.index + m[0].length + 48))) {
        if (!push({ kind: 'exfil-link', excerpt: excerptAt(text, m.index, m[0].length), severity: 'high' })) return markers;
      }
    }
  }
  if (text.includes('://')) {
    for (const m of text.matchAll(URL_PATTERN)) {
      const url = trimUnbalanced(m[0].replace(/[.,;:!?]+$/, ''), '[', ']');
      if (images.has(url)) continue;
      const following = text.slice(m.index + url.length, m.index + url.length + 48);
      const placeholder = hasPlaceholder(url, following);
      if (placeholder || carriesData(url)) {
        if (!push({ kind: 'exfil-link', excerpt: excerptAt(text, m.index, url.length), severity: placeholder ? 'high' : 'low' })) return markers;
      }
    }
  }

  const tools = toolMatcher(options.toolNames);
  if (tools) {
    const seen = new Set<string>();
    for (const m of text.matchAll(tools)) {
      const name = m[0].toLowerCase();
      if (seen.has(name)) continue;
      seen.add(name);
      if (!push({ kind: 'tool-mention', excerpt: excerptAt(text, m.index, m[0].length), severity: 'low' })) return markers;
    }
  }
  return markers;
}
