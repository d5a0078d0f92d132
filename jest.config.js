// One Jest config, three lanes (selected with --selectProjects):
//   unit: *.spec.ts beside the code, no I/O;
//   int:  *.int-spec.ts against real Kafka, Postgres and a kwok control plane;
//   e2e:  *.e2e-spec.ts across the three services running as separate processes;
//   chaos: *.chaos-spec.ts, the fault campaign (npm run test:chaos), e2e plus injected faults.
// @kubernetes/client-node 1.x and its auth deps are ESM-only: babel-jest turns exactly those
// packages into CommonJS so Jest loads the real library (no module mocks).
const esmPackages = ['@kubernetes/client-node', 'openid-client', 'oauth4webapi', 'jose'];

const paths = {
  '^@ringmaster/(rollout-core|contracts|kube|persistence|messaging|service-kit)$':
    '<rootDir>/libs/$1/src',
};

const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  moduleNameMapper: paths,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
    '^.+\\.m?js$': [
      'babel-jest',
      { presets: [['@babel/preset-env', { targets: { node: 'current' }, modules: 'commonjs' }]] },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.join('|')})/)`],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,test}/**/*.spec.ts'] },
    { ...base, displayName: 'int', testMatch: ['<rootDir>/{apps,libs,test}/**/*.int-spec.ts'] },
    {
      ...base,
      displayName: 'e2e',
      testMatch: ['<rootDir>/{apps,libs,test}/**/*.e2e-spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/observers.teardown.ts'],
    },
    {
      ...base,
      displayName: 'chaos',
      testMatch: ['<rootDir>/test/chaos/**/*.chaos-spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/observers.teardown.ts'],
    },
  ],
};
