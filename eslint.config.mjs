// Lint rules. The one that matters most: libs/rollout-core is the pure decision core and may
// not import a framework, a client or Node's I/O, so it stays testable in virtual time.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const forbiddenInCore = [
  '@nestjs/*',
  'typeorm',
  'typeorm/*',
  'kafkajs',
  '@kubernetes/client-node',
  'pg',
  ...[
    'fs',
    'net',
    'http',
    'https',
    'child_process',
    'dgram',
    'dns',
    'tls',
    'worker_threads',
    'cluster',
  ].flatMap((m) => [m, `node:${m}`, `${m}/*`, `node:${m}/*`]),
  '@ringmaster/contracts',
  '@ringmaster/kube',
  '@ringmaster/persistence',
  '@ringmaster/messaging',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      '.scratch/',
      '.ringmaster/',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['libs/rollout-core/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: forbiddenInCore,
              message:
                'libs/rollout-core is pure: no framework, client or I/O imports (see DESIGN.md).',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'rollout-core takes `now` as an argument.' },
        { object: 'Math', property: 'random', message: 'rollout-core takes seeds as arguments.' },
      ],
    },
  },
);
