/**
 * The one error type of the gateway, with stable codes. Each code maps once, here, to a JSON-RPC
 * error code and an HTTP status; the edges translate with {@link toJsonRpcError} and
 * {@link httpStatusOf} and nowhere else.
 */
export const ERROR_CODES = {
  /** Malformed request from the client (bad JSON, bad params). */
  INVALID_REQUEST: { jsonRpc: -32600, http: 400 },
  PARSE_ERROR: { jsonRpc: -32700, http: 400 },
  INVALID_PARAMS: { jsonRpc: -32602, http: 400 },
  /** The exposed name is not offered by any upstream (or hidden from this agent and unknown). */
  UNKNOWN_TOOL: { jsonRpc: -32602, http: 404 },
  UNKNOWN_PROMPT: { jsonRpc: -32602, http: 404 },
  UNKNOWN_RESOURCE: { jsonRpc: -32602, http: 404 },
  METHOD_NOT_FOUND: { jsonRpc: -32601, http: 404 },
  /** The policy denied the request. */
  DENIED: { jsonRpc: -32003, http: 403 },
  /** The request needs a human and none has answered yet. */
  PENDING_APPROVAL: { jsonRpc: -32004, http: 409 },
  /** The upstream is down, restarting, or failed mid-call: never the client's fault. */
  UPSTREAM_UNAVAILABLE: { jsonRpc: -32010, http: 502 },
  UPSTREAM_TIMEOUT: { jsonRpc: -32011, http: 504 },
  /** The upstream answered with an error of its own; its code and message are relayed. */
  UPSTREAM_ERROR: { jsonRpc: -32012, http: 502 },
  RESULT_TOO_LARGE: { jsonRpc: -32013, http: 502 },
  REQUEST_TOO_LARGE: { jsonRpc: -32600, http: 413 },
  UNAUTHENTICATED: { jsonRpc: -32001, http: 401 },
  FORBIDDEN: { jsonRpc: -32003, http: 403 },
  SESSION_NOT_FOUND: { jsonRpc: -32001, http: 404 },
  SESSION_REQUIRED: { jsonRpc: -32000, http: 400 },
  CONFIG_INVALID: { jsonRpc: -32603, http: 500 },
  NOT_FOUND: { jsonRpc: -32002, http: 404 },
  CONFLICT: { jsonRpc: -32603, http: 409 },
  INTERNAL: { jsonRpc: -32603, http: 500 },
} as const satisfies Record<string, { jsonRpc: number; http: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly code: ErrorCode;
  /** Extra structured data safe to show the client (never secrets). */
  readonly data?: Record<string, unknown>;
  /** An upstream's own JSON-RPC error, relayed unchanged (its code and data). */
  readonly relayed?: { code: number; data?: unknown };

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; data?: Record<string, unknown>; relayed?: { code: number; data?: unknown } }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.data) this.data = options.data;
    if (options?.relayed) this.relayed = options.relayed;
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}

/** Any thrown value as a GatewayError; unknown errors become INTERNAL with a generic message. */
export function asGatewayError(error: unknown): GatewayError {
  if (isGatewayError(error)) return error;
  return new GatewayError('INTERNAL', 'internal gateway error', { cause: error });
}

export function httpStatusOf(error: GatewayError): number {
  return ERROR_CODES[error.code].http;
}

export function toJsonRpcError(error: GatewayError): { code: number; message: string; data?: unknown } {
  if (error.relayed) {
    return { code: error.relayed.code, message: error.message, ...(error.relayed.data === undefined ? {} : { data: error.relayed.data }) };
  }
  // Resource-not-found is recognised by clients from data being exactly { uri }.
  if (error.code === 'UNKNOWN_RESOURCE') return { code: ERROR_CODES[error.code].jsonRpc, message: error.message, data: error.data };
  return { code: ERROR_CODES[error.code].jsonRpc, message: error.message, data: { ...(error.data ?? {}), portcullis: error.code } };
}
