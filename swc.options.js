// How TypeScript is compiled outside tsc (Jest and the benchmark): ES modules with the legacy
// decorators and decorator metadata Nest's dependency injection needs.
export const swcOptions = {
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    keepClassNames: true,
  },
  module: { type: 'es6' },
};
