// Jest in ESM mode (NODE_OPTIONS=--experimental-vm-modules), TypeScript through SWC with decorator metadata.
import { swcOptions } from './swc.options.js';

const swc = ['@swc/jest', { ...swcOptions, sourceMaps: 'inline' }];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^nest-session$': '<rootDir>/lib/index.ts',
    '^nest-session/testing$': '<rootDir>/lib/testing/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testEnvironment: 'node',
};

export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.spec.ts'],
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    { ...common, displayName: 'services', testMatch: ['<rootDir>/test/services/**/*.spec.ts'] },
    { ...common, displayName: 'browser', testMatch: ['<rootDir>/test/browser/**/*.spec.ts'] },
    { ...common, displayName: 'stress', testMatch: ['<rootDir>/test/stress/**/*.spec.ts'] },
  ],
};
