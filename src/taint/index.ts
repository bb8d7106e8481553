/**
 * The taint core's public surface (SPEC §5). Pure: no I/O, no clock, no randomness; boundary
 * tokens, hash seeds and the SHA-256 function come in as arguments.
 */
export { stripHidden, hasHidden, stripHiddenDeep, nestsDeeperThan, MAX_JSON_DEPTH } from './hidden.js';
export type { HiddenKind, StripResult, StripDeepResult, StripDeepOptions } from './hidden.js';

export { wrapText, escapeWrapped, escapeAttribute, isValidBoundary } from './wrap.js';
export type { WrapOptions } from './wrap.js';

export { findInjectionMarkers, MAX_MARKERS } from './markers.js';
export type { InjectionMarker, InjectionMarkerKind, MarkerOptions } from './markers.js';

export { createRedactor, redactSecrets, REDACTED, MIN_SECRET_LENGTH } from './redact.js';
export type { Redactor } from './redact.js';

export { labelResult, labelReadResource, labelPrompt, sanitizeToolDefinition, removeTaintLabel, TAINT_META_KEY } from './label.js';
export type { TaintLabel, TaintLevel, LabelContext, LabelOutcome, SanitizedTool } from './label.js';

export { extractEntities, canonicalUrl, canonicalPath, isValidIban } from './entities.js';
export type { Entity, EntityKind, CanonicalUrl } from './entities.js';

export { createProvenanceIndex, normalizeForWindows } from './provenance.js';
export type {
  ProvenanceIndex,
  ProvenanceIndexOptions,
  ProvenanceMatchOptions,
  ProvenanceHit,
  ProvenanceKind,
  ProvenanceOrigin,
} from './provenance.js';

export { canonicalJson, pinSubject, pinDigest, diffDefinitions, findShadowing } from './pins.js';
export type { ToolDefinitionLike, PinSubject, DefinitionChange, ShadowedTool } from './pins.js';

export { compileTaint, isSink, escalate, recordTaint, describeProvenanceHit, CLEAN_SESSION, MAX_TAINT_SOURCES } from './escalate.js';
export type {
  CompiledTaint,
  SessionTaint,
  TaintSource,
  SinkTool,
  DecisionLike,
  EscalationInput,
  EscalationCause,
  EscalatedDecision,
} from './escalate.js';
