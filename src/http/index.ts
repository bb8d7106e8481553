/** The HTTP edge's public surface (besides app.ts): identity, metrics, the calls API. */
export { CSRF_HEADER, REVIEWER_ROLES, createAuthenticator, principalOf, requireCsrf, requireReviewer } from './auth.js';
export type { AuthConfig, Authenticator, AuthenticatorOptions, Principal, PrincipalOptions, ReviewerEnv } from './auth.js';
export { LOGIN_KEY_FILE, SESSION_COOKIE, loadLoginKey, signLoginToken, verifyLoginToken } from './login.js';
export { OTHER_LABEL, createMetrics, metricsHandler } from './metrics.js';
export type { Metrics, MetricsOptions } from './metrics.js';
export { auditQueryHandler, undoHandler } from './calls.js';
export { errorResponse } from './error-response.js';
export { remoteAddressOf } from './remote.js';
