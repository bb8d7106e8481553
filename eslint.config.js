import tseslint from 'typescript-eslint';

/** Modules that do I/O, read the clock or the environment: forbidden in the pure cores. */
const impure = [
  { group: ['node:*', 'fs', 'path', 'os', 'child_process', 'http', 'https', 'net', 'crypto'], message: 'src/policy and src/taint are pure: no Node I/O modules.' },
  { group: ['hono', 'hono/*', '@hono/*', 'pino', 'prom-client', 'jose', '@modelcontextprotocol/*'], message: 'src/policy and src/taint are pure: no I/O libraries.' },
  { group: ['**/proxy/**', '**/http/**', '**/audit/**', '**/approvals/**', '**/cli/**', '**/main.js'], message: 'src/policy and src/taint may not import the I/O folders.' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', 'test-results/**', 'bench/results/**', '.portcullis/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['src/policy/**/*.ts', 'src/taint/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: impure }],
      'no-restricted-globals': ['error',
        { name: 'process', message: 'Pure core: pass values in as arguments.' },
        { name: 'Date', message: 'Pure core: time comes in as an argument.' },
        { name: 'setTimeout', message: 'Pure core: no timers.' },
        { name: 'fetch', message: 'Pure core: no I/O.' }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Pure core: ids and randomness come in as arguments.' }],
    },
  },
);
